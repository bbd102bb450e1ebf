//! The logout engine: every ending atomic whatever its scope, refresh reuse told from a benign
//! replay, many concurrent logouts all answered correctly, and acknowledged logouts surviving
//! `kill -9`.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use signoff::server::domain::{logout::FailPoint, ClientMeta};

use crate::helpers::{expect_json, race, spawn_app, start, successes, TestApp, PASSWORD};

/// `n` opaque tokens of `email`, one sign-in each, issued directly by the domain (a password check
/// per token over HTTP would make these tests slow for nothing).
pub async fn mint(app: &TestApp, email: &str, n: usize) -> Vec<String> {
    use secrecy::ExposeSecret;
    let auth = &app.state.auth;
    let user = auth.authenticate(email, PASSWORD.into()).await.unwrap();
    let mut tokens = Vec::with_capacity(n);
    for _ in 0..n {
        let issued = auth
            .issue_opaque(&user, &ClientMeta::default())
            .await
            .unwrap();
        tokens.push(issued.token.expose_secret().to_owned());
    }
    tokens
}

/// Everything an ending could change, to compare before and after a failed one.
async fn snapshot(app: &TestApp) -> (i64, i64, String) {
    let ended = app
        .sql_count("SELECT COUNT(*) FROM signins WHERE ended_at IS NOT NULL")
        .await;
    let audit = app.sql_count("SELECT COUNT(*) FROM audit_events").await;
    let hash = app.sql_text("SELECT password_hash FROM users").await;
    (ended, audit, hash)
}

fn internal_001() -> Value {
    json!({"message": "Internal server error", "description": "An unexpected error occurred", "code": "INTERNAL_ERROR"})
}

#[tokio::test]
async fn every_scope_is_atomic_when_a_step_fails() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let tokens = mint(&app, "ada@example.com", 3).await;
    let other = app
        .sql_text("SELECT id FROM signins ORDER BY created_at DESC, id DESC LIMIT 1")
        .await;
    let scopes = [
        json!({"scope": "local"}),
        json!({"scope": "others"}),
        json!({"scope": "global"}),
        json!({"session_id": other}),
    ];
    for point in [FailPoint::AfterEnding, FailPoint::BeforeCommit] {
        for body in &scopes {
            let before = snapshot(&app).await;
            app.state.auth.engine().inject_failure(point);
            let res = app.logout_001(&tokens[0], Some(body.clone())).await;
            expect_json(res, StatusCode::INTERNAL_SERVER_ERROR, internal_001()).await;
            assert_eq!(
                snapshot(&app).await,
                before,
                "{point:?} {body}: nothing changed"
            );
            for t in &tokens {
                assert!(
                    app.accepted(t).await,
                    "{point:?} {body}: every token still works"
                );
            }
        }
    }
    // Seed 004's pair and the browser's password change, the same way.
    let (access, refresh) = app.jwt_pair("ada@example.com").await;
    let before = snapshot(&app).await;
    app.state
        .auth
        .engine()
        .inject_failure(FailPoint::AfterEnding);
    let res = app
        .logout_004(&access, &json!({"refresh_token": refresh}))
        .await;
    expect_json(
        res,
        StatusCode::INTERNAL_SERVER_ERROR,
        json!({"code": 500, "message": "internal server error", "data": {}}),
    )
    .await;
    assert_eq!(snapshot(&app).await, before);
    assert!(app.accepted(&access).await);

    let cookie = app.browser_login("ada@example.com").await;
    let before = snapshot(&app).await;
    app.state
        .auth
        .engine()
        .inject_failure(FailPoint::BeforeCommit);
    let res = app
        .form(
            "change_password",
            Some(&cookie),
            &[
                ("current_password", PASSWORD),
                ("new_password", "a new password"),
                ("sign_out_others", "on"),
            ],
        )
        .await;
    assert_eq!(
        crate::helpers::location(&res),
        "/account/password?error=internal"
    );
    assert_eq!(
        snapshot(&app).await,
        before,
        "neither the hash nor any sign-in changed"
    );
    assert!(app.accepted(&access).await && app.accepted(&tokens[1]).await);

    // With nothing injected, the same requests succeed.
    let res = app
        .logout_001(&tokens[0], Some(json!({"scope": "global"})))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    for t in tokens.iter().chain([&access]) {
        assert!(!app.accepted(t).await);
    }
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM audit_events WHERE detail LIKE 'everywhere (%'")
            .await,
        1,
        "one request, one audit row"
    );
}

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.refresh_004(&json!({ "refresh_token": token })).await
}

async fn pair(res: reqwest::Response) -> (String, String) {
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    (
        body["data"]["access_token"].as_str().unwrap().to_owned(),
        body["data"]["refresh_token"].as_str().unwrap().to_owned(),
    )
}

async fn events(app: &TestApp) -> Vec<String> {
    signoff::with_pool!(app.state.auth.db(), p => sqlx::query_scalar(
        "SELECT event FROM audit_events ORDER BY at, id").fetch_all(p).await.unwrap())
}

#[tokio::test]
async fn a_refresh_replayed_within_the_grace_window_gets_the_same_pair_and_outside_it_ends_the_signin(
) {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let (_, first) = app.jwt_pair("ada@example.com").await;
    let second = pair(refresh(&app, &first).await).await;
    // A client that lost the answer asks again: the very same successor pair.
    let again = pair(refresh(&app, &first).await).await;
    assert_eq!(again, second);
    assert!(app.accepted(&second.0).await);
    assert!(events(&app).await.contains(&"refresh_replay".to_owned()));
    assert!(!events(&app)
        .await
        .contains(&"refresh_token_reuse".to_owned()));

    // Later, the same rotated token is reuse: the whole sign-in ends.
    app.age_rotations().await;
    expect_json(
        refresh(&app, &first).await,
        StatusCode::UNAUTHORIZED,
        json!({"code": 401, "message": "invalid token", "data": {}}),
    )
    .await;
    assert!(!app.accepted(&second.0).await);
    assert_eq!(
        refresh(&app, &second.1).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert!(events(&app)
        .await
        .contains(&"refresh_token_reuse".to_owned()));
    assert_eq!(
        app.sql_text("SELECT end_reason FROM signins WHERE kind = 'jwt'")
            .await,
        "refresh_reuse"
    );
}

#[tokio::test]
async fn a_replay_after_the_successor_was_used_is_reuse_even_within_the_window() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let (_, first) = app.jwt_pair("ada@example.com").await;
    let second = pair(refresh(&app, &first).await).await;
    let third = pair(refresh(&app, &second.1).await).await;
    assert_eq!(
        refresh(&app, &first).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert!(!app.accepted(&third.0).await, "the sign-in ended");
}

#[tokio::test]
async fn logging_out_with_a_rotated_pair_ends_the_signin_and_the_thiefs_pair_with_it() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let (old_access, old_refresh) = app.jwt_pair("ada@example.com").await;
    // A thief refreshes with the stolen refresh token and holds the new pair.
    let thief = pair(refresh(&app, &old_refresh).await).await;
    app.age_rotations().await;
    // The victim logs out with the pair it still has.
    let res = app
        .logout_004(&old_access, &json!({ "refresh_token": old_refresh }))
        .await;
    expect_json(
        res,
        StatusCode::OK,
        json!({"code": 200, "message": "logout successful", "data": {}}),
    )
    .await;
    assert!(
        !app.accepted(&thief.0).await,
        "the thief's access token is dead"
    );
    assert_eq!(
        refresh(&app, &thief.1).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.sql_text("SELECT end_reason FROM signins WHERE kind = 'jwt'")
            .await,
        "refresh_reuse"
    );
    assert!(events(&app)
        .await
        .contains(&"refresh_token_reuse".to_owned()));
    // Within the window it is the client's own refresh racing its logout: a plain logout.
    let (access, refresh_token) = app.jwt_pair("ada@example.com").await;
    let next = pair(refresh(&app, &refresh_token).await).await;
    let res = app
        .logout_004(&access, &json!({ "refresh_token": refresh_token }))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!app.accepted(&next.0).await);
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM signins WHERE kind = 'jwt' AND end_reason = 'logout'")
            .await,
        1
    );
}

#[tokio::test]
async fn two_hundred_concurrent_logouts_of_distinct_tokens_all_succeed() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let tokens = mint(&app, "ada@example.com", 200).await;
    let logouts = tokens
        .iter()
        .enumerate()
        .map(|(i, token)| app.opaque_logout(i % 3, token));
    for status in race(logouts).await {
        assert!(status.is_success());
    }
    for token in &tokens {
        assert!(!app.accepted(token).await);
    }
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM signins WHERE end_reason = 'logout'")
            .await,
        200
    );
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM audit_events WHERE event = 'logout'")
            .await,
        200
    );
}

#[tokio::test]
async fn twenty_concurrent_logouts_of_one_token_exactly_one_succeeds() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let token = mint(&app, "ada@example.com", 1).await.remove(0);
    let (access, refresh_token) = app.jwt_pair("ada@example.com").await;
    for jwt in [false, true] {
        let logouts = (0..20).map(|i| {
            if jwt {
                app.client
                    .post(app.url("/api/auth/logout"))
                    .bearer_auth(&access)
                    .json(&json!({ "refresh_token": refresh_token }))
            } else {
                app.opaque_logout(i % 3, &token)
            }
        });
        let statuses = race(logouts).await;
        assert_eq!(
            successes(&statuses, StatusCode::UNAUTHORIZED),
            1,
            "jwt: {jwt}"
        );
    }
}

/// A server started as its own process (so that it can be killed with SIGKILL), on `database_url`.
/// The real server binary, running in a process of its own.
pub struct Process {
    child: std::process::Child,
    /// `http://127.0.0.1:<port>`
    pub address: String,
    /// Every line it wrote to standard error (its log), so far.
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Process {
    /// SIGKILL: no shutdown, no flush, nothing.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Sends `signal` (`STOP`, `CONT`…) to the process.
    pub fn signal(&self, signal: &str) {
        let sent = std::process::Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{signal}");
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_process(database_url: &str) -> Process {
    spawn_process_with(database_url, &[])
}

/// Starts the server binary on `database_url` with extra environment `env`.
pub fn spawn_process_with(database_url: &str, env: &[(&str, &str)]) -> Process {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_signoff"))
        .envs(env.iter().copied())
        .env("DATABASE_URL", database_url)
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the server binary starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let lines = log.clone();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if !sent {
                // `addr=…` in text logs, `"addr":"…"` in JSON ones.
                let addr = line
                    .split("addr=")
                    .nth(1)
                    .and_then(|a| a.split_whitespace().next())
                    .or_else(|| line.split("\"addr\":\"").nth(1)?.split('"').next());
                if let Some(addr) = addr {
                    let _ = tx.send(addr.to_owned());
                    sent = true;
                }
            }
            lines.lock().unwrap().push(line);
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the server says where it listens");
    Process {
        child,
        address: format!("http://{addr}"),
        log,
    }
}

#[tokio::test]
async fn every_acknowledged_logout_survives_sigkill_in_the_middle_of_a_storm() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let tokens = mint(&app, "ada@example.com", 600).await;
    let mut server = spawn_process(&app.database_url);
    let address = server.address.clone();

    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let (first_acks, mut enough) = tokio::sync::watch::channel(0usize);
    let client = reqwest::Client::new();
    let storm = {
        let acknowledged = acknowledged.clone();
        tokio::spawn(async move {
            use futures_util::StreamExt;
            futures_util::stream::iter(tokens)
                .for_each_concurrent(64, |token| {
                    let (client, address, acknowledged, first_acks) = (
                        client.clone(),
                        address.clone(),
                        acknowledged.clone(),
                        first_acks.clone(),
                    );
                    async move {
                        let res = client
                            .delete(format!("{address}/api/v1/logout"))
                            .bearer_auth(&token)
                            .timeout(Duration::from_secs(5))
                            .send()
                            .await;
                        if matches!(&res, Ok(r) if r.status() == StatusCode::NO_CONTENT) {
                            let mut acked = acknowledged.lock().unwrap();
                            acked.push(token);
                            first_acks.send_replace(acked.len());
                        }
                    }
                })
                .await;
        })
    };
    enough
        .wait_for(|n| *n >= 100)
        .await
        .expect("logouts are acknowledged");
    server.kill(); // SIGKILL
    storm.await.unwrap();

    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 100 && acknowledged.len() < 600,
        "{}",
        acknowledged.len()
    );
    // After a restart on the same database, every acknowledged logout is still in force.
    let restarted = start(&app.database_url).await;
    for token in &acknowledged {
        assert!(
            !restarted.accepted(token).await,
            "an acknowledged logout was lost"
        );
    }
    let ended = restarted
        .sql_count("SELECT COUNT(*) FROM signins WHERE end_reason = 'logout'")
        .await;
    assert!(
        ended >= acknowledged.len() as i64,
        "{ended} < {}",
        acknowledged.len()
    );
}
