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
    /// How late (milliseconds) what the server sends reaches the client.
    delay: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl StallingProxy {
    async fn start(upstream: &str) -> Self {
        use std::sync::{atomic::AtomicBool, Arc};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let paused = Arc::new(AtomicBool::new(false));
        let delay = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (upstream, flag, late) = (upstream.to_owned(), paused.clone(), delay.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                    continue;
                };
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                let on_time = Arc::new(std::sync::atomic::AtomicU64::new(0));
                tokio::spawn(pipe(cr, sw, flag.clone(), on_time));
                tokio::spawn(pipe(sr, cw, flag.clone(), late.clone()));
            }
        });
        Self {
            port,
            paused,
            delay,
        }
    }

    /// Delivers everything the server sends `by` late, steadily (bytes keep flowing).
    fn delay(&self, by: Duration) {
        self.delay
            .store(by.as_millis() as u64, std::sync::atomic::Ordering::SeqCst);
    }

    fn pause(&self, paused: bool) {
        self.paused
            .store(paused, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Two healthy instances on one database, B's notifications through a [`StallingProxy`] (its
/// queries not), and two JWTs of one sign-in each that B accepts: one to log out, one to keep.
struct Behind {
    proxy: StallingProxy,
    a: TestApp,
    b: TestApp,
    doomed: String,
    kept: String,
}

impl Behind {
    async fn start(url: &str) -> Self {
        let proxy = StallingProxy::start("127.0.0.1:5432").await;
        let a = start(url).await;
        let mut config = Config::for_tests(url.to_owned());
        config.listen_url = Some(crate::helpers::through_port(url, proxy.port));
        let b = start_with(config).await;
        healthy(&a).await;
        healthy(&b).await;
        a.create_user("ada@example.com").await;
        let (doomed, _) = a.jwt_pair("ada@example.com").await;
        let (kept, _) = a.jwt_pair("ada@example.com").await;
        assert!(b.accepted(&doomed).await && b.accepted(&kept).await);
        Self {
            proxy,
            a,
            b,
            doomed,
            kept,
        }
    }
}

/// Copies `from` to `to`, each chunk `delay` after it was read, in order, holding every byte back
/// while `paused` (the sockets stay open).
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    paused: std::sync::Arc<std::sync::atomic::AtomicBool>,
    delay: std::sync::Arc<std::sync::atomic::AtomicU64>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match from.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let late = Duration::from_millis(delay.load(std::sync::atomic::Ordering::SeqCst));
            if tx
                .send((tokio::time::Instant::now() + late, buf[..n].to_vec()))
                .is_err()
            {
                return;
            }
        }
    });
    while let Some((due, chunk)) = rx.recv().await {
        tokio::time::sleep_until(due).await;
        while paused.load(std::sync::atomic::Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if to.write_all(&chunk).await.is_err() {
            return;
        }
    }
}

#[tokio::test]
async fn an_instance_whose_notifications_run_steadily_late_never_answers_from_a_stale_memory() {
    let Some(db) = require_postgres(
        "an_instance_whose_notifications_run_steadily_late_never_answers_from_a_stale_memory",
    )
    .await
    else {
        return;
    };
    let Behind {
        proxy,
        a,
        b,
        doomed,
        kept,
    } = Behind::start(&db.url).await;

    // B's notifications keep flowing, pings included, but steadily 1.5 s late: longer than a
    // logout waits for acknowledgements. The lag grows by 100 ms steps (no gap in the stream
    // ever looks like a stall), then holds.
    for step in 1..=15 {
        proxy.delay(Duration::from_millis(step * 100));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_millis(1700)).await;
    let res = a.logout_002(&doomed).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(
        !b.accepted(&doomed).await,
        "B answered from a memory 1.5 s behind"
    );
    assert!(b.accepted(&kept).await);
    assert!(
        !b.state.auth.revocations().is_healthy(),
        "B knows it is behind"
    );

    // The lag ends: B catches up and answers from memory again.
    proxy.delay(Duration::ZERO);
    healthy(&b).await;
    assert!(!b.accepted(&doomed).await);
    assert!(b.accepted(&kept).await);
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
    let Behind {
        proxy,
        a,
        b,
        doomed,
        kept,
    } = Behind::start(&db.url).await;

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

/// The freeze drill: one of two instances is frozen (SIGSTOP) while the other logs a token out;
/// resumed (SIGCONT), its very first answer for that token is 401, whatever its tasks have had
/// the time to read since.
#[tokio::test]
async fn a_frozen_instance_resumed_refuses_at_once_a_token_logged_out_while_it_slept() {
    let Some(db) = require_postgres(
        "a_frozen_instance_resumed_refuses_at_once_a_token_logged_out_while_it_slept",
    )
    .await
    else {
        return;
    };
    let a = crate::logout_engine::spawn_process_with(&db.url, &[]);
    let b = crate::logout_engine::spawn_process_with(&db.url, &[]);
    let http = reqwest::Client::new();
    for base in [&a.address, &b.address] {
        until("the instance is ready", async || {
            let res = http.get(format!("{base}/readyz")).send().await;
            res.is_ok_and(|r| r.status() == StatusCode::OK)
        })
        .await;
    }
    let res = http
        .post(format!("{}/api/v1/account/register", a.address))
        .json(&json!({"email": "ada@example.com", "password": crate::helpers::PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let (access, refresh) = crate::helpers::jwt_pair_at(&http, &a.address, "ada@example.com").await;
    let me = |base: String| {
        let (http, access) = (http.clone(), access.clone());
        async move {
            http.get(format!("{base}/api/v1/account/me"))
                .bearer_auth(access)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(me(b.address.clone()).await, StatusCode::OK);

    b.signal("STOP");
    let res = http
        .post(format!("{}/api/auth/logout", a.address))
        .bearer_auth(&access)
        .json(&json!({"refresh_token": refresh}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    tokio::time::sleep(Duration::from_millis(300)).await;
    b.signal("CONT");
    assert_eq!(
        me(b.address.clone()).await,
        StatusCode::UNAUTHORIZED,
        "the resumed instance's first answer"
    );
}

/// Instances started at the same moment on a new database (a deployment's first roll-out) all
/// start: the migrations, the session store's table and the key files are each made once.
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn instances_started_at_once_on_a_new_database_all_start() {
    for _ in 0..3 {
        let Some(db) =
            require_postgres("instances_started_at_once_on_a_new_database_all_start").await
        else {
            return;
        };
        let keys = tempfile::tempdir().unwrap();
        let config = || {
            let mut c = Config::for_tests(&db.url);
            c.oidc_keys = Some(keys.path().join("keys"));
            c
        };
        let apps = futures_util::future::join_all((0..3).map(|_| {
            let config = config();
            tokio::spawn(signoff::server::Application::build(config))
        }))
        .await;
        for app in apps {
            let app = app.unwrap().expect("every instance starts");
            drop(app);
        }
    }
}
