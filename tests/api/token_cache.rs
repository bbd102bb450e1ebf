//! Opaque tokens are checked from memory after a first database read, and refused at once when
//! their sign-in ends, whichever way it ends: the cache never outlives a revocation.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{app_with_user, TestApp};

/// Uses `token` twice (a database read, then memory) and checks that the second use came from
/// memory: the account's e-mail is changed behind the server's back, and the cached answer still
/// shows the old one.
async fn cached(app: &TestApp, token: &str) {
    // Hits are used only while the denylist is complete: on PostgreSQL, once the listener is up.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !app.state.auth.revocations().is_healthy() {
        assert!(
            std::time::Instant::now() < deadline,
            "the denylist never became complete"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let res = app.me_000(token).await;
    assert_eq!(res.status(), StatusCode::OK);
    app.sql("UPDATE users SET email = 'renamed@example.com' WHERE email = 'ada@example.com'")
        .await;
    let res = app.me_000(token).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: serde_json::Value = res.json().await.unwrap();
    app.sql("UPDATE users SET email = 'ada@example.com' WHERE email = 'renamed@example.com'")
        .await;
    assert_eq!(
        body["data"]["user"]["email"], "ada@example.com",
        "the second use was answered from memory"
    );
    assert!(!app.state.auth.token_cache().is_empty());
}

#[tokio::test]
async fn a_cached_opaque_token_is_refused_at_once_however_its_sign_in_ends() {
    let app = app_with_user().await;

    // Seed 000: GET /api/v1/account/logout?token=…
    let token = app.opaque_token("ada@example.com").await;
    cached(&app, &token).await;
    assert_eq!(app.logout_000(&token).await.status(), StatusCode::OK);
    assert!(!app.accepted(&token).await, "seed 000 logout");

    // Seed 001: POST /auth/logout with the token.
    let token = app.opaque_token("ada@example.com").await;
    cached(&app, &token).await;
    assert_eq!(
        app.logout_001(&token, Some(json!({}))).await.status(),
        StatusCode::OK
    );
    assert!(!app.accepted(&token).await, "seed 001 logout");

    // Seed 002: DELETE /api/v1/logout.
    let token = app.opaque_token("ada@example.com").await;
    cached(&app, &token).await;
    assert_eq!(
        app.logout_002(&token).await.status(),
        StatusCode::NO_CONTENT
    );
    assert!(!app.accepted(&token).await, "seed 002 logout");

    // RFC 7009 revocation.
    let token = app.opaque_token("ada@example.com").await;
    cached(&app, &token).await;
    let res = app
        .client
        .post(app.url("/oauth/revoke"))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!app.accepted(&token).await, "RFC 7009 revocation");

    // Ended by another sign-in: "log out everywhere else", then everywhere.
    let doomed = app.opaque_token("ada@example.com").await;
    let asking = app.opaque_token("ada@example.com").await;
    cached(&app, &doomed).await;
    cached(&app, &asking).await;
    let res = app
        .logout_001(&asking, Some(json!({"scope": "others"})))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!app.accepted(&doomed).await, "scope others");
    assert!(app.accepted(&asking).await, "the asking token stays");
    let res = app
        .logout_001(&asking, Some(json!({"scope": "global"})))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!app.accepted(&asking).await, "scope global");
}

#[tokio::test]
async fn a_token_used_many_times_is_read_from_the_database_once_and_its_use_written_once() {
    let app = app_with_user().await;
    let token = app.opaque_token("ada@example.com").await;
    for _ in 0..20 {
        assert!(app.accepted(&token).await);
    }
    assert_eq!(app.state.auth.token_cache().len(), 1);
    // "Last used" is written off the request's path, shortly after the first use.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while app
        .sql_count("SELECT COUNT(*) FROM tokens WHERE last_used_at IS NOT NULL")
        .await
        == 0
    {
        assert!(tokio::time::Instant::now() < deadline, "last use written");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
