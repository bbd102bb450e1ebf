//! Signoff: logout done right. A Leptos app (server-rendered, with islands) and JSON logout APIs over
//! one account, sign-in and token system.
//!
//! - [`pages`]: the pages by feature, with their server functions and the types that cross the
//!   wire, compiled for the server and the browser.
//! - [`routes`]: every page's path and who may see it.
//! - `server` (feature `ssr`): everything that touches the database, secrets or axum.
#![recursion_limit = "256"]

pub mod pages;
pub mod reasons;
pub mod routes;
#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "hydrate")]
pub mod tabs;

/// Entry point of the browser bundle. The pages are rendered on the server only (Leptos islands):
/// this starts the reactive runtime for the islands (each `#[island]`, which Leptos' loader
/// hydrates right after this returns) and the tab's own code ([`tabs::start`]).
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
    tabs::start();
}
