//! Integration tests: each starts the real server on port 0 with a fresh database and talks HTTP.

mod abuse_and_lifetime;
mod account_api;
mod account_pages;
mod across;
mod browser;
mod dialects;
mod docs_and_logs;
mod helpers;
mod live_signout;
mod logout_engine;
mod multi_instance;
mod oauth_revoke;
mod operator_cli;
mod pruning;
mod webhooks;
