//! Logout events for other services: `session.ended` webhooks, written in the ending's transaction
//! and delivered (signed, retried, exactly once by id) by the server in the background.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{http::HeaderMap, routing::post, Router};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{json, Value};
use signoff::server::{config::WebhookSecret, domain::logout::FailPoint};

use crate::helpers::{spawn_app_with, TestApp};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    id: String,
    timestamp: String,
    signature: String,
    body: String,
    /// The status the receiver answered.
    answered: u16,
}

/// A webhook receiver on port 0 that fails its first `fail` requests with 500.
#[derive(Clone)]
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
    fail: Arc<Mutex<usize>>,
}

impl Receiver {
    async fn start(fail: usize) -> Self {
        Self::start_on("127.0.0.1:0", fail).await
    }

    async fn start_on(addr: &str, fail: usize) -> Self {
        let got: Arc<Mutex<Vec<Received>>> = Default::default();
        let fail = Arc::new(Mutex::new(fail));
        let (g, f) = (got.clone(), fail.clone());
        let app = Router::new().route(
            "/hook",
            post(move |headers: HeaderMap, body: String| {
                let (got, fail) = (g.clone(), f.clone());
                async move {
                    let status = {
                        let mut fail = fail.lock().unwrap();
                        if *fail > 0 {
                            *fail -= 1;
                            500
                        } else {
                            200
                        }
                    };
                    let h = |n: &str| {
                        headers
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned()
                    };
                    got.lock().unwrap().push(Received {
                        id: h("webhook-id"),
                        timestamp: h("webhook-timestamp"),
                        signature: h("webhook-signature"),
                        body,
                        answered: status,
                    });
                    StatusCode::from_u16(status).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, got, fail }
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    fn delivered(&self) -> Vec<Received> {
        self.got()
            .into_iter()
            .filter(|r| r.answered == 200)
            .collect()
    }

    /// Waits until `n` events were accepted (a correctness bound, not a speed measurement).
    async fn until_delivered(&self, n: usize, within: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let delivered = self.delivered();
            if delivered.len() >= n {
                return delivered;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{n} deliveries expected, got {:?}",
                self.got()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Verifies a delivery as a receiver must (Standard Webhooks).
fn verify(r: &Received) {
    let key = WebhookSecret::parse(SECRET).unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key.0).unwrap();
    mac.update(format!("{}.{}.{}", r.id, r.timestamp, r.body).as_bytes());
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    assert!(
        r.signature.split(' ').any(|s| s == expected),
        "signature {:?} does not verify",
        r.signature
    );
    let ts: i64 = r.timestamp.parse().unwrap();
    let now = signoff::server::db::now();
    assert!((now - ts).abs() < 300, "timestamp within five minutes");
    assert!(r.id.starts_with("msg_"));
}

async fn app_with(receivers: &[&Receiver]) -> TestApp {
    let urls: Vec<String> = receivers.iter().map(|r| r.url.clone()).collect();
    spawn_app_with(|c| {
        c.webhook_urls = urls;
        c.webhook_secret = Some(WebhookSecret::parse(SECRET).unwrap());
    })
    .await
}

async fn logout_002(app: &TestApp, token: &str) -> StatusCode {
    app.logout_002(token).await.status()
}

#[tokio::test]
async fn a_logout_is_delivered_signed_to_every_receiver_with_the_published_body() {
    let (r1, r2) = (Receiver::start(0).await, Receiver::start(0).await);
    let app = app_with(&[&r1, &r2]).await;
    app.create_user("ada@example.com").await;
    let token = app.opaque_token("ada@example.com").await;
    let signin = app.sql_text("SELECT id FROM signins").await;
    let user = app.sql_text("SELECT id FROM users").await;
    assert_eq!(logout_002(&app, &token).await, StatusCode::NO_CONTENT);
    let one = r1.until_delivered(1, Duration::from_secs(10)).await;
    let two = r2.until_delivered(1, Duration::from_secs(10)).await;
    verify(&one[0]);
    verify(&two[0]);
    assert_eq!(one[0].id, two[0].id, "one event, one id, every receiver");
    let body: Value = serde_json::from_str(&one[0].body).unwrap();
    assert_eq!(body["type"], "session.ended");
    let data = &body["data"];
    assert_eq!(data["user_id"], user.as_str());
    assert_eq!(data["signin_id"], signin.as_str());
    assert_eq!(data["kind"], "token");
    assert_eq!(data["reason"], "logout");
    for field in ["ended_at", "credentials_expire_at"] {
        let text = data[field].as_str().unwrap();
        assert!(text.ends_with('Z') && text.contains('T'), "{field}: {text}");
    }
    assert_eq!(body["timestamp"], data["ended_at"]);
    // The opaque token would have lived 30 days.
    assert!(data["credentials_expire_at"].as_str().unwrap() > data["ended_at"].as_str().unwrap());
}

#[tokio::test]
async fn a_global_logout_sends_one_event_per_sign_in_with_its_kind_and_reason() {
    let r = Receiver::start(0).await;
    let app = app_with(&[&r]).await;
    app.create_user("ada@example.com").await;
    let _cookie = app.browser_login("ada@example.com").await;
    let (access, _) = app.jwt_pair("ada@example.com").await;
    let token = app.opaque_token("ada@example.com").await;
    let res = app
        .logout_001(&token, Some(json!({ "scope": "global" })))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let got = r.until_delivered(3, Duration::from_secs(10)).await;
    let mut kinds: Vec<(String, String)> = got
        .iter()
        .map(|g| {
            let v: Value = serde_json::from_str(&g.body).unwrap();
            (
                v["data"]["kind"].as_str().unwrap().to_owned(),
                v["data"]["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            ("browser", "logout_global"),
            ("jwt", "logout_global"),
            ("token", "logout_global")
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    assert!(!app.accepted(&access).await);
}

#[tokio::test]
async fn a_failing_receiver_is_retried_and_gets_the_event_exactly_once_by_id() {
    let r = Receiver::start(2).await;
    let app = app_with(&[&r]).await;
    app.create_user("ada@example.com").await;
    let token = app.opaque_token("ada@example.com").await;
    assert_eq!(logout_002(&app, &token).await, StatusCode::NO_CONTENT);
    // 1 s and 2 s of back-off after the two failures.
    let delivered = r.until_delivered(1, Duration::from_secs(15)).await;
    verify(&delivered[0]);
    let got = r.got();
    assert_eq!(got.len(), 3, "two failures, then the delivery: {got:?}");
    assert!(got
        .iter()
        .all(|g| g.id == got[0].id && g.body == got[0].body));
    // Delivered: never sent again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(r.got().len(), 3);
    assert_eq!(
        app.sql_count(
            "SELECT COUNT(*) FROM webhook_outbox WHERE delivered_at IS NOT NULL AND attempts = 3"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn nothing_is_sent_for_an_ending_that_rolled_back() {
    let r = Receiver::start(0).await;
    let app = app_with(&[&r]).await;
    app.create_user("ada@example.com").await;
    let token = app.opaque_token("ada@example.com").await;
    app.state
        .auth
        .engine()
        .inject_failure(FailPoint::BeforeCommit);
    assert_eq!(
        logout_002(&app, &token).await,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(r.got().is_empty(), "{:?}", r.got());
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM webhook_outbox").await,
        0
    );
    // The retry succeeds, and that one is announced.
    assert_eq!(logout_002(&app, &token).await, StatusCode::NO_CONTENT);
    r.until_delivered(1, Duration::from_secs(10)).await;
}

#[tokio::test]
async fn without_receivers_no_event_is_written() {
    let app = spawn_app_with(|_| {}).await;
    app.create_user("ada@example.com").await;
    let token = app.opaque_token("ada@example.com").await;
    assert_eq!(logout_002(&app, &token).await, StatusCode::NO_CONTENT);
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM webhook_outbox").await,
        0
    );
}

/// The server binary, killed with SIGKILL after acknowledging a logout whose event it could not
/// deliver yet; after a restart the event arrives.
#[tokio::test]
async fn an_event_committed_before_a_sigkill_is_delivered_after_the_restart() {
    let app = spawn_app_with(|_| {}).await;
    app.create_user("ada@example.com").await;
    let token = app.opaque_token("ada@example.com").await;
    // The receiver refuses everything until the restart.
    let r = Receiver::start(usize::MAX).await;
    let env = [
        ("SIGNOFF_WEBHOOK_URLS", r.url.as_str()),
        ("SIGNOFF_WEBHOOK_SECRET", SECRET),
    ];
    let mut server = crate::logout_engine::spawn_process_with(&app.database_url, &env);
    let status = reqwest::Client::new()
        .delete(format!("{}/api/v1/logout", server.address))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::NO_CONTENT);
    server.kill();
    assert!(r.delivered().is_empty());
    *r.fail.lock().unwrap() = 0;
    let mut again = crate::logout_engine::spawn_process_with(&app.database_url, &env);
    // At worst the row was mid-send at the kill: its lease (30 s) runs out first.
    let delivered = r.until_delivered(1, Duration::from_secs(45)).await;
    verify(&delivered[0]);
    let body: Value = serde_json::from_str(&delivered[0].body).unwrap();
    assert_eq!(body["data"]["reason"], "logout");
    again.kill();
}

#[tokio::test]
async fn delivered_events_are_pruned_after_the_retention_period_and_pending_ones_never() {
    let r = Receiver::start(0).await;
    let app = app_with(&[&r]).await;
    app.create_user("ada@example.com").await;
    for _ in 0..2 {
        let token = app.opaque_token("ada@example.com").await;
        assert_eq!(logout_002(&app, &token).await, StatusCode::NO_CONTENT);
    }
    r.until_delivered(2, Duration::from_secs(10)).await;
    // One delivered long ago, one still pending (as if its receiver were down).
    app.sql("UPDATE webhook_outbox SET delivered_at = 1 WHERE event_id = (SELECT MIN(event_id) FROM webhook_outbox)")
        .await;
    app.sql("UPDATE webhook_outbox SET delivered_at = NULL, next_attempt_at = 4102444800 WHERE event_id = (SELECT MAX(event_id) FROM webhook_outbox)")
        .await;
    let report = app
        .state
        .auth
        .prune(
            app.state.config.session_idle,
            std::time::Duration::from_secs(86_400),
        )
        .await
        .unwrap();
    assert_eq!(report.webhooks, 1);
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM webhook_outbox").await,
        1
    );
}
