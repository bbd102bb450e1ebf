//! The server ends sign-ins on its own: past their idle or absolute lifetime within
//! `SIGNOFF_SWEEP_SECS` even if nobody comes back, and over `SIGNOFF_MAX_SIGNINS_PER_USER` the least
//! recently used one.

use std::time::Duration;

use reqwest::StatusCode;
use signoff::server::config::WebhookSecret;

use crate::helpers::{location, spawn_app_with, TestApp};

/// Waits up to 10 s until `sql` counts `n`; returns the last count.
async fn eventually(app: &TestApp, sql: &str, n: i64) -> i64 {
    let mut count = app.sql_count(sql).await;
    for _ in 0..100 {
        if count == n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        count = app.sql_count(sql).await;
    }
    count
}

#[tokio::test]
async fn an_unused_sign_in_past_its_idle_time_is_ended_by_the_server_and_told_to_webhooks() {
    let app = spawn_app_with(|c| {
        c.session_idle = Duration::from_secs(2);
        c.sweep_every = Duration::from_secs(1);
        // Nothing listens there: the events only need to be written.
        c.webhook_urls = vec!["http://127.0.0.1:9/hook".into()];
        c.webhook_secret =
            Some(WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap());
    })
    .await;
    app.create_user("ada@example.com").await;
    let cookie = app.browser_login("ada@example.com").await;
    let _token = app.opaque_token("ada@example.com").await;
    // Nobody uses either again: the sweeper ends both, with their events, on its own.
    let ended = "SELECT COUNT(*) FROM signins WHERE end_reason = 'idle'";
    assert_eq!(eventually(&app, ended, 2).await, 2);
    let events = "SELECT COUNT(*) FROM webhook_outbox WHERE payload LIKE '%\"idle\"%'";
    assert_eq!(app.sql_count(events).await, 2);
    let res = app.get("/", Some(&cookie)).await;
    assert_eq!(location(&res), "/login?ended=idle");
}

#[tokio::test]
async fn a_sign_in_past_its_absolute_time_is_ended_by_the_server() {
    let app = spawn_app_with(|c| {
        c.session_idle = Duration::from_secs(60);
        c.session_absolute = Duration::from_secs(2);
        c.sweep_every = Duration::from_secs(1);
    })
    .await;
    app.create_user("ada@example.com").await;
    let (access, _) = app.jwt_pair("ada@example.com").await;
    let ended = "SELECT COUNT(*) FROM signins WHERE end_reason = 'absolute'";
    assert_eq!(eventually(&app, ended, 1).await, 1);
    assert!(!app.accepted(&access).await);
}

#[tokio::test]
async fn a_sign_in_over_the_limit_ends_the_least_recently_used_one_which_is_told_why() {
    let app = spawn_app_with(|c| c.max_signins_per_user = Some(2)).await;
    app.create_user("ada@example.com").await;
    app.create_user("bob@example.com").await;
    let oldest = app.browser_login("ada@example.com").await;
    let token = app.opaque_token("ada@example.com").await;
    let bobs = app.opaque_token("bob@example.com").await;
    // The oldest sign-in was used last a second ago or more: the newest two are the most recent.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(app.accepted(&token).await);
    let newest = app.browser_login("ada@example.com").await;
    let res = app.get("/", Some(&oldest)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/login?ended=limit");
    let page = app
        .get("/login?ended=limit", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("more devices than it may use at once"),
        "{page}"
    );
    assert_eq!(app.get("/", Some(&newest)).await.status(), StatusCode::OK);
    assert!(app.accepted(&token).await);
    assert!(
        app.accepted(&bobs).await,
        "another user's sign-ins do not count"
    );
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM audit_events WHERE event = 'sign_in_evicted'")
            .await,
        1
    );
}
