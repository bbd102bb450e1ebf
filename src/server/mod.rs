//! Everything that runs only on the server: configuration, storage, the domain (accounts, sign-ins,
//! passwords) and the HTTP layer. Nothing in here is compiled into the browser bundle.

pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod http;
pub mod metrics;
pub mod pages;
pub mod reveal;
pub mod sessions;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod webhooks;

pub use config::Config;
pub use startup::Application;
pub use state::AppState;
