//! Signoff: logout done right. A Leptos app (server-rendered, hydrated) and JSON logout APIs over
//! one account, sign-in and token system.
//!
//! - [`app`]: the pages, compiled for the server and the browser.
//! - [`auth`]: the server functions the pages call, and the types that cross the wire.
//! - `server` (feature `ssr`): everything that touches the database, secrets or axum.
#![recursion_limit = "256"]

pub mod app;
pub mod auth;
pub mod idle;
pub mod reference;
#[cfg(feature = "ssr")]
pub mod server;
pub mod tabs;

/// Entry point of the browser bundle: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
