//! Integration tests: each starts the real server on port 0 with a fresh database and talks HTTP.

mod abuse_and_lifetime;
mod account_pages;
mod across;
mod assets;
mod browser;
mod docs_and_logs;
mod envelopes;
mod hardening;
mod health;
mod helpers;
mod live_signout;
mod logout_engine;
mod metrics;
mod multi_instance;
mod oauth_revoke;
mod oidc;
mod operator_cli;
mod pruning;
mod seed_000;
mod seed_001;
mod seed_002;
mod seed_004;
mod sweep_and_limit;
mod token_cache;
mod webhooks;
