//! Two instances on one PostgreSQL: a logout on one is refused on the other, even while the
//! other's notification link is down.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use signoff::server::Config;

use crate::helpers::{location, require_postgres, start, start_with, TestApp};

/// Polls `check` every 5 ms until it holds; a correctness bound (10 s), not a speed measurement.
async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("timed out waiting for: {what}");
}

async fn healthy(app: &TestApp) {
    until("the revocation listener is up", async || {
        app.state.auth.revocations().is_healthy()
    })
    .await;
}

#[tokio::test]
async fn a_logout_on_one_instance_is_refused_on_the_other() {
    let Some(db) = require_postgres("a_logout_on_one_instance_is_refused_on_the_other").await
    else {
        return;
    };
    let a = start(&db.url).await;
    let b = start(&db.url).await;
    healthy(&a).await;
    healthy(&b).await;
    a.create_user("ada@example.com").await;
    let opaque = a.opaque_token("ada@example.com").await;
    let (jwt, _) = a.jwt_pair("ada@example.com").await;
    let cookie = a.browser_login("ada@example.com").await;
    assert!(b.accepted(&opaque).await && b.accepted(&jwt).await);
    assert_eq!(b.get("/", Some(&cookie)).await.status(), StatusCode::OK);

    // Opaque tokens and browser sessions: refused on B at once.
    let res = a
        .client
        .delete(a.url("/api/v1/logout"))
        .bearer_auth(&opaque)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(!b.accepted(&opaque).await);
    a.form("logout", Some(&cookie), &[]).await;
    assert_eq!(location(&b.get("/", Some(&cookie)).await), "/login");

    // JWT: B checks it in memory, so it learns of the logout by notification.
    let res = a
        .client
        .get(a.url(&format!("/api/v1/account/logout?token={jwt}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    until("B refuses the JWT", async || !b.accepted(&jwt).await).await;
    assert!(
        b.state.auth.revocations().is_healthy(),
        "refused from memory, not by falling back"
    );
}

#[tokio::test]
async fn with_its_notification_link_cut_an_instance_still_refuses_revoked_tokens() {
    let Some(db) =
        require_postgres("with_its_notification_link_cut_an_instance_still_refuses_revoked_tokens")
            .await
    else {
        return;
    };
    let a = start(&db.url).await;
    // B waits 3 s before reconnecting, so the test can act while its link is down.
    let mut config = Config::for_tests(db.url.clone());
    config.listen_retry = Duration::from_secs(3);
    let b = start_with(config).await;
    healthy(&a).await;
    healthy(&b).await;
    a.create_user("ada@example.com").await;
    let (doomed, _) = a.jwt_pair("ada@example.com").await;
    let (kept, _) = a.jwt_pair("ada@example.com").await;
    assert!(b.accepted(&doomed).await && b.accepted(&kept).await);

    // Cut every notification connection (A's and B's).
    a.sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
           WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .await;
    until("B notices its link is down", async || {
        !b.state.auth.revocations().is_healthy()
    })
    .await;

    let res = a
        .client
        .post(a.url("/auth/logout"))
        .bearer_auth(&doomed)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!b.state.auth.revocations().is_healthy(), "still cut off");
    assert!(
        !b.accepted(&doomed).await,
        "refused by the database while the link is down"
    );
    assert!(b.accepted(&kept).await);

    healthy(&b).await;
    assert!(
        !b.accepted(&doomed).await,
        "refused from memory after catching up"
    );
    assert!(b.accepted(&kept).await);
}
