//! The idle warning: before a sign-in ends for want of use (`SIGNOFF_SESSION_IDLE_SECS`), every
//! signed-in page says "You will be signed out in 2 minutes" (or less, when the idle time is short)
//! with a **Stay signed in** button. The tabs of a browser share one clock: a page load or a click
//! on the button in any tab moves every tab's deadline (a `BroadcastChannel` message), so activity
//! in one tab keeps the others signed in. When the deadline passes, the tab goes to
//! `/login?ended=idle`; the server, asked for it, ends the sign-in (reason `idle`).
//!
//! The clock comes from the server (`session_clock`, which does not count as a use), so the tabs
//! and the server agree on when the sign-in ends. Without JavaScript there is no warning; the
//! next request after the idle time lands on `/login` with the reason all the same.

use leptos::prelude::*;

use serde::{Deserialize, Serialize};

/// How long until this browser's sign-in ends unused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdleClock {
    /// Seconds left (idle or absolute limit, whichever comes first).
    pub remaining: i64,
    /// The idle lifetime, in seconds.
    pub idle: i64,
}

/// How long until this sign-in ends unused, without counting as a use.
#[server(prefix = "/_fn", endpoint = "session_clock")]
pub async fn session_clock() -> Result<Option<IdleClock>, ServerFnError> {
    crate::server::pages::idle::session_clock().await
}

/// Records a use now: "Stay signed in".
#[server(prefix = "/_fn", endpoint = "stay_signed_in")]
pub async fn stay_signed_in() -> Result<Option<IdleClock>, ServerFnError> {
    crate::server::pages::idle::stay_signed_in().await
}

/// How the warning words the time left.
pub fn warning_text(left: i64) -> String {
    if left >= 90 {
        let minutes = (left + 30) / 60;
        let s = if minutes == 1 { "" } else { "s" };
        format!("You will be signed out in {minutes} minute{s}")
    } else {
        let s = if left == 1 { "" } else { "s" };
        format!("You will be signed out in {left} second{s}")
    }
}

/// The warning, shown on every signed-in page when its time comes (with JavaScript): an island.
#[island]
pub fn IdleWarning() -> impl IntoView {
    let left = RwSignal::new(None::<i64>);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| client::start(left));
    let stay = move |_| {
        #[cfg(feature = "hydrate")]
        client::stay();
    };
    view! {
        <Show when=move || left.get().is_some()>
            <div class="idle-warning" role="alertdialog" aria-labelledby="idle-warning-text" data-testid="idle-warning">
                <p id="idle-warning-text">{move || left.get().map(warning_text)}</p>
                <button type="button" class="button button-primary" on:click=stay>"Stay signed in"</button>
            </div>
        </Show>
    }
}

#[cfg(feature = "hydrate")]
mod client {
    use std::cell::{Cell, RefCell};

    use leptos::prelude::*;
    use wasm_bindgen::{closure::Closure, JsCast, JsValue};

    use super::IdleClock;

    const CHANNEL: &str = "signoff-idle";

    thread_local! {
        /// When this browser's sign-in ends unused, in milliseconds of this browser's clock (0: unknown).
        static DEADLINE: Cell<f64> = const { Cell::new(0.0) };
        /// Warn this many seconds before.
        static WARN: Cell<i64> = const { Cell::new(120) };
        static STARTED: Cell<bool> = const { Cell::new(false) };
        /// Asked the server once more before warning (another tab's activity may have moved it).
        static RECHECKED: Cell<bool> = const { Cell::new(false) };
        static LEAVING: Cell<bool> = const { Cell::new(false) };
        static SHOWN: RefCell<Option<RwSignal<Option<i64>>>> = const { RefCell::new(None) };
        static BROADCAST: RefCell<Option<web_sys::BroadcastChannel>> = const { RefCell::new(None) };
    }

    fn on_private_page() -> bool {
        let path = window().location().pathname().unwrap_or_default();
        crate::routes::is_private(&path)
    }

    fn show(left: Option<i64>) {
        SHOWN.with(|s| {
            if let Some(signal) = *s.borrow() {
                let _ = signal.try_set(left);
            }
        });
    }

    fn apply(clock: IdleClock) {
        let deadline = crate::tabs::js_sys_now() + clock.remaining as f64 * 1000.0;
        DEADLINE.with(|d| d.set(deadline));
        crate::tabs::note_idle_deadline(deadline);
        WARN.with(|w| w.set((clock.idle / 2).clamp(1, 120)));
        RECHECKED.with(|r| r.set(false));
    }

    /// Moves the deadline later (never earlier) and re-evaluates.
    fn extend_to(deadline: f64) {
        if deadline > DEADLINE.with(Cell::get) {
            DEADLINE.with(|d| d.set(deadline));
            crate::tabs::note_idle_deadline(deadline);
            RECHECKED.with(|r| r.set(false));
            tick();
        }
    }

    fn broadcast() {
        let deadline = DEADLINE.with(Cell::get);
        BROADCAST.with(|b| {
            if let Some(channel) = b.borrow().as_ref() {
                let _ = channel.post_message(&JsValue::from_f64(deadline));
            }
        });
    }

    fn fetch(then_broadcast: bool) {
        leptos::task::spawn_local(async move {
            if let Ok(Some(clock)) = super::session_clock().await {
                apply(clock);
                if then_broadcast {
                    broadcast();
                }
                tick();
            }
        });
    }

    fn tick() {
        let deadline = DEADLINE.with(Cell::get);
        if deadline == 0.0 || !on_private_page() {
            return;
        }
        let left_ms = deadline - crate::tabs::js_sys_now();
        if left_ms <= -1500.0 {
            show(None);
            if !LEAVING.with(|l| l.replace(true)) {
                // By now the server counts the sign-in as idle: asking for /login ends it there (a
                // signed-in visitor of /login would be sent home instead), and the page says why.
                let _ = window().location().replace("/login?ended=idle");
            }
            return;
        }
        let left = (left_ms / 1000.0).ceil().max(0.0) as i64;
        if left <= WARN.with(Cell::get) {
            if !RECHECKED.with(|r| r.replace(true)) {
                fetch(false);
            }
            show(Some(left));
        } else {
            show(None);
        }
    }

    /// Starts the clock in this tab (once), and points it at this page's warning.
    pub fn start(shown: RwSignal<Option<i64>>) {
        SHOWN.with(|s| *s.borrow_mut() = Some(shown));
        // A signed-in page was just served: the server's clock may have moved.
        fetch(true);
        if STARTED.with(|s| s.replace(true)) {
            return;
        }
        if let Ok(channel) = web_sys::BroadcastChannel::new(CHANNEL) {
            let on_message =
                Closure::<dyn Fn(web_sys::MessageEvent)>::new(|e: web_sys::MessageEvent| {
                    if let Some(deadline) = e.data().as_f64() {
                        extend_to(deadline);
                    }
                });
            channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            on_message.forget();
            BROADCAST.with(|b| *b.borrow_mut() = Some(channel));
        }
        let _ = set_interval_with_handle(tick, std::time::Duration::from_secs(1));
    }

    /// "Stay signed in": records a use on the server and tells every tab.
    pub fn stay() {
        leptos::task::spawn_local(async {
            if let Ok(Some(clock)) = super::stay_signed_in().await {
                apply(clock);
                broadcast();
                tick();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::warning_text;

    #[test]
    fn the_warning_speaks_in_minutes_then_seconds() {
        assert_eq!(warning_text(120), "You will be signed out in 2 minutes");
        assert_eq!(warning_text(95), "You will be signed out in 2 minutes");
        assert_eq!(warning_text(89), "You will be signed out in 89 seconds");
        assert_eq!(warning_text(1), "You will be signed out in 1 second");
    }
}
