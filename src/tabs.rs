//! Tabs that follow a logout. Every logout lands on `/login?logged_out=1`; that page, once the
//! server has ended the sign-in, tells the other tabs of the browser (a `BroadcastChannel` message,
//! with a `localStorage` `storage` event as the fallback). A tab on a signed-in page that hears it,
//! or that becomes visible again, asks the server whether it is still signed in and, if not, goes to
//! `/login`: asking first means a stale message can never sign out a tab that is signed in.
//!
//! A signed-in page also listens to the server: one `EventSource` on `/events` per tab. When the
//! sign-in ends anywhere (another device's "Log out everywhere", an API logout, a password change,
//! an operator), the server sends `signed-out` with the reason and the page goes to
//! `/login?ended=<reason>`, which says why.
//! All of this is browser code, started by [`start`] on every page; the pages themselves are
//! rendered on the server only.

const CHANNEL: &str = "signoff";
const STORAGE_KEY: &str = "signoff.logout";

/// Tells every other tab of this browser that this browser logged out.
fn announce_logout() {
    if let Ok(channel) = web_sys::BroadcastChannel::new(CHANNEL) {
        let _ = channel.post_message(&wasm_bindgen::JsValue::from_str("logout"));
        channel.close();
    }
    // Older browsers without BroadcastChannel still fire `storage` in the other tabs.
    if let Ok(Some(storage)) = leptos::prelude::window().local_storage() {
        let _ = storage.set_item(STORAGE_KEY, &js_sys_now().to_string());
    }
}

/// This browser's clock, in milliseconds since the epoch.
pub(crate) fn js_sys_now() -> f64 {
    leptos::prelude::window()
        .performance()
        .map(|p| p.time_origin() + p.now())
        .unwrap_or(0.0)
}

/// On a signed-in page whose sign-in has ended, goes to `/login`.
fn recheck() {
    let path = leptos::prelude::window()
        .location()
        .pathname()
        .unwrap_or_default();
    if !crate::routes::is_private(&path) {
        return;
    }
    leptos::task::spawn_local(async {
        if let Ok(None) = crate::pages::home::whoami().await {
            // Past this browser's idle deadline, the other tab that logged out went for that
            // reason (all tabs share one clock): say so, as that tab does.
            let to = if idle_ran_out() {
                "/login?ended=idle"
            } else {
                "/login?logged_out=1"
            };
            let _ = leptos::prelude::window().location().replace(to);
        }
    });
}

thread_local! {
    /// When this browser's sign-in ends unused, by this browser's clock in milliseconds (0:
    /// unknown), as the idle warning (`crate::pages::idle`) last learnt it.
    static IDLE_DEADLINE: std::cell::Cell<f64> = const { std::cell::Cell::new(0.0) };
}

/// Notes when this browser's sign-in ends unused (the idle warning tells).
pub(crate) fn note_idle_deadline(deadline: f64) {
    IDLE_DEADLINE.with(|d| d.set(deadline));
}

/// True when this browser's idle deadline has passed: its sign-in has ended, or is about to, for
/// want of use.
fn idle_ran_out() -> bool {
    let deadline = IDLE_DEADLINE.with(std::cell::Cell::get);
    deadline != 0.0 && js_sys_now() >= deadline
}

thread_local! {
    /// Set when this tab submits a form that signs it out (`data-leaves`): the server function's
    /// own redirect takes the tab to `/login`, so the stream's `signed-out` is not followed.
    static LEAVING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

thread_local! {
    /// This tab's one stream of server events, while a signed-in page shows.
    static STREAM: std::cell::RefCell<Option<web_sys::EventSource>> = const { std::cell::RefCell::new(None) };
}

/// Opens this tab's stream of server events, unless it is open already.
fn listen() {
    use wasm_bindgen::{closure::Closure, JsCast};
    if STREAM.with(|s| s.borrow().is_some()) {
        return;
    }
    let Ok(source) = web_sys::EventSource::new("/events") else {
        return;
    };
    let on_signed_out =
        Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
            if let Some(source) = STREAM.with(|s| s.borrow_mut().take()) {
                source.close();
            }
            if LEAVING.with(|l| l.get()) {
                return;
            }
            let reason = e
                .data()
                .as_string()
                .and_then(|d| serde_json::from_str::<serde_json::Value>(&d).ok())
                .and_then(|v| v.get("reason").and_then(|r| r.as_str()).map(str::to_owned))
                .unwrap_or_default();
            let _ = leptos::prelude::window()
                .location()
                .replace(&crate::reasons::EndReason::login_after(&reason));
        });
    let _ = source
        .add_event_listener_with_callback("signed-out", on_signed_out.as_ref().unchecked_ref());
    // Lives as long as the tab.
    on_signed_out.forget();
    STREAM.with(|s| *s.borrow_mut() = Some(source));
}

/// Notes, for the whole tab, when a form that signs this tab out is submitted (`data-leaves`).
fn watch_leaving() {
    use wasm_bindgen::{closure::Closure, JsCast};
    let on_submit = Closure::<dyn Fn(web_sys::Event)>::new(|e: web_sys::Event| {
        let leaves = e
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .is_some_and(|form| form.has_attribute("data-leaves"));
        if leaves {
            LEAVING.with(|l| l.set(true));
        }
    });
    // Capture: seen before the form's own handler.
    let _ = leptos::prelude::document().add_event_listener_with_callback_and_bool(
        "submit",
        on_submit.as_ref().unchecked_ref(),
        true,
    );
    on_submit.forget();
}

/// Starts this tab's part (once, from `hydrate`): follows the other tabs' logouts; on a
/// signed-in page, listens to the server; on `/login` after a logout or an ending, tells the other
/// tabs; then marks the page (`data-hydrated`), which the browser tests wait for before clicking.
pub fn start() {
    use leptos::prelude::{document, window};
    follow_logouts();
    let document = document();
    // Only the signed-in frame carries it: the server rendered this page for a live sign-in.
    if let Ok(Some(_)) = document.query_selector("[data-signed-in]") {
        listen();
    }
    let location = window().location();
    if location.pathname().unwrap_or_default() == crate::routes::LOGIN {
        let search = location.search().unwrap_or_default();
        let ended_here = search
            .trim_start_matches('?')
            .split('&')
            .filter_map(|pair| pair.split('=').next())
            .any(|key| key == "logged_out" || key == "ended");
        // This browser's sign-in has ended on the server: the other tabs may follow.
        if ended_here {
            announce_logout();
        }
    }
    if let Some(root) = document.document_element() {
        let _ = root.set_attribute("data-hydrated", "true");
    }
}

/// Starts following logouts in this tab (once).
fn follow_logouts() {
    watch_leaving();
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

    let on_storage = Closure::<dyn Fn(web_sys::StorageEvent)>::new(|e: web_sys::StorageEvent| {
        if e.key().as_deref() == Some(STORAGE_KEY) {
            recheck();
        }
    });
    let _ = window.add_event_listener_with_callback("storage", on_storage.as_ref().unchecked_ref());
    on_storage.forget();

    let on_visible = Closure::<dyn Fn()>::new(|| {
        if leptos::prelude::document().visibility_state() == web_sys::VisibilityState::Visible {
            recheck();
        }
    });
    let _ = leptos::prelude::document()
        .add_event_listener_with_callback("visibilitychange", on_visible.as_ref().unchecked_ref());
    on_visible.forget();
}
