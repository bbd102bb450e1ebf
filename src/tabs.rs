//! Tabs that follow a logout. Every logout lands on `/login?logged_out=1`; that page, once the
//! server has ended the sign-in, tells the other tabs of the browser (a `BroadcastChannel` message,
//! with a `localStorage` `storage` event as the fallback). A tab on a signed-in page that hears it,
//! or that becomes visible again, asks the server whether it is still signed in and, if not, goes to
//! `/login`: asking first means a stale message can never sign out a tab that is signed in.
//! All of this runs in the browser only; on the server these functions do nothing.

/// Pages that need a signed-in user; a hidden tab on one of them re-checks when shown again.
pub const PRIVATE_PAGES: &[&str] = &["/", "/tokens", "/sessions", "/account/password"];

#[cfg(feature = "hydrate")]
const CHANNEL: &str = "signoff";
#[cfg(feature = "hydrate")]
const STORAGE_KEY: &str = "signoff.logout";

/// Tells every other tab of this browser that this browser logged out.
pub fn announce_logout() {
    #[cfg(feature = "hydrate")]
    {
        if let Ok(channel) = web_sys::BroadcastChannel::new(CHANNEL) {
            let _ = channel.post_message(&wasm_bindgen::JsValue::from_str("logout"));
            channel.close();
        }
        // Older browsers without BroadcastChannel still fire `storage` in the other tabs.
        if let Ok(Some(storage)) = leptos::prelude::window().local_storage() {
            let _ = storage.set_item(STORAGE_KEY, &js_sys_now().to_string());
        }
    }
}

#[cfg(feature = "hydrate")]
fn js_sys_now() -> f64 {
    leptos::prelude::window()
        .performance()
        .map(|p| p.time_origin() + p.now())
        .unwrap_or(0.0)
}

/// On a signed-in page whose sign-in has ended, goes to `/login`.
#[cfg(feature = "hydrate")]
fn recheck() {
    let path = leptos::prelude::window()
        .location()
        .pathname()
        .unwrap_or_default();
    if !PRIVATE_PAGES.contains(&path.as_str()) {
        return;
    }
    leptos::task::spawn_local(async {
        if let Ok(None) = crate::auth::whoami().await {
            let _ = leptos::prelude::window()
                .location()
                .replace("/login?logged_out=1");
        }
    });
}

/// Starts following logouts in this tab (call once, in the browser).
pub fn follow_logouts() {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::{closure::Closure, JsCast};
        let window = leptos::prelude::window();

        if let Ok(channel) = web_sys::BroadcastChannel::new(CHANNEL) {
            let on_message =
                Closure::<dyn Fn(web_sys::MessageEvent)>::new(|e: web_sys::MessageEvent| {
                    if e.data().as_string().as_deref() == Some("logout") {
                        recheck();
                    }
                });
            channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            // Both live as long as the tab.
            on_message.forget();
            std::mem::forget(channel);
        }

        let on_storage =
            Closure::<dyn Fn(web_sys::StorageEvent)>::new(|e: web_sys::StorageEvent| {
                if e.key().as_deref() == Some(STORAGE_KEY) {
                    recheck();
                }
            });
        let _ =
            window.add_event_listener_with_callback("storage", on_storage.as_ref().unchecked_ref());
        on_storage.forget();

        let on_visible = Closure::<dyn Fn()>::new(|| {
            if leptos::prelude::document().visibility_state() == web_sys::VisibilityState::Visible {
                recheck();
            }
        });
        let _ = leptos::prelude::document().add_event_listener_with_callback(
            "visibilitychange",
            on_visible.as_ref().unchecked_ref(),
        );
        on_visible.forget();
    }
}
