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

    // Opaque tokens: B answers them from memory (its cache), and refuses them at once: A answers
    // the logout only after the notification has gone out to every instance.
    assert!(b.accepted(&opaque).await);
    assert_eq!(
        b.state.auth.token_cache().len(),
        1,
        "B holds the token in memory"
    );
    let res = a.logout_002(&opaque).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(!b.accepted(&opaque).await);
    assert!(
        b.state.auth.revocations().is_healthy(),
        "refused from memory"
    );

    // Browser sessions: refused on B at once.
    a.form("logout", Some(&cookie), &[]).await;
    assert_eq!(location(&b.get("/", Some(&cookie)).await), "/login");

    // JWT: B checks it in memory too, and has been told by the time A answers.
    let res = a.logout_000(&jwt).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!b.accepted(&jwt).await);
    assert!(
        b.state.auth.revocations().is_healthy(),
        "refused from memory, not by falling back"
    );
}

#[tokio::test]
async fn a_logout_is_answered_only_once_a_slow_instance_has_applied_it() {
    let Some(db) =
        require_postgres("a_logout_is_answered_only_once_a_slow_instance_has_applied_it").await
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
    let (rotated, refresh) = a.jwt_pair("ada@example.com").await;
    assert!(b.accepted(&opaque).await && b.accepted(&jwt).await && b.accepted(&rotated).await);

    // B applies every revocation 300 ms late.
    b.state
        .auth
        .revocations()
        .hold_notifications(Duration::from_millis(300));
    let res = a.logout_002(&opaque).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(!b.accepted(&opaque).await, "A answered before B applied it");
    let res = a.logout_000(&jwt).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!b.accepted(&jwt).await, "A answered before B applied it");
    assert!(
        b.state.auth.revocations().is_healthy(),
        "refused from memory"
    );
    // A refresh denies the access token it replaces, on B too before it answers.
    let res = a.refresh_004(&json!({ "refresh_token": refresh })).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        !b.accepted(&rotated).await,
        "A answered before B applied it"
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

    let res = a.logout_001(&doomed, Some(json!({}))).await;
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

/// A TCP proxy to PostgreSQL that can stop forwarding without closing anything: what a half-open
/// connection or a stalled middlebox looks like from the client.
struct StallingProxy {
    port: u16,
    paused: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl StallingProxy {
    async fn start(upstream: &str) -> Self {
        use std::sync::{atomic::AtomicBool, Arc};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let paused = Arc::new(AtomicBool::new(false));
        let (upstream, flag) = (upstream.to_owned(), paused.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                    continue;
                };
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                tokio::spawn(pipe(cr, sw, flag.clone()));
                tokio::spawn(pipe(sr, cw, flag.clone()));
            }
        });
        Self { port, paused }
    }

    fn pause(&self, paused: bool) {
        self.paused
            .store(paused, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Copies `from` to `to`, holding every byte back while `paused` (the sockets stay open).
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    paused: std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while paused.load(std::sync::atomic::Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

#[tokio::test]
async fn a_stalled_notification_link_falls_back_to_database_checks_within_a_second() {
    let Some(db) = require_postgres(
        "a_stalled_notification_link_falls_back_to_database_checks_within_a_second",
    )
    .await
    else {
        return;
    };
    let proxy = StallingProxy::start("127.0.0.1:5432").await;
    let a = start(&db.url).await;
    // B's notifications come through the proxy; its queries do not.
    let mut config = Config::for_tests(db.url.clone());
    let (base, name) = db.url.rsplit_once('/').unwrap();
    let (scheme_user, _) = base.rsplit_once('@').unwrap();
    config.listen_url = Some(format!("{scheme_user}@127.0.0.1:{}/{name}", proxy.port));
    let b = start_with(config).await;
    healthy(&a).await;
    healthy(&b).await;
    a.create_user("ada@example.com").await;
    let (doomed, _) = a.jwt_pair("ada@example.com").await;
    let (kept, _) = a.jwt_pair("ada@example.com").await;
    assert!(b.accepted(&doomed).await && b.accepted(&kept).await);

    // The link stalls: nothing closes, nothing arrives.
    proxy.pause(true);
    let stalled_at = std::time::Instant::now();
    until("B notices the stall", async || {
        !b.state.auth.revocations().is_healthy()
    })
    .await;
    let noticed = stalled_at.elapsed();
    assert!(
        noticed < Duration::from_millis(1500),
        "B fell back after {noticed:?}, not within a second"
    );
    let res = a.logout_002(&doomed).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(
        !b.accepted(&doomed).await,
        "refused by the database while the link is stalled"
    );
    assert!(b.accepted(&kept).await);

    // The link recovers: B listens again and catches up.
    proxy.pause(false);
    healthy(&b).await;
    assert!(!b.accepted(&doomed).await);
    assert!(b.accepted(&kept).await);
}
