//! Traces over OTLP: the real server, with `OTEL_EXPORTER_OTLP_ENDPOINT` pointing at a collector
//! here, exports its spans (HTTP/protobuf); a logout's trace continues into the webhook and
//! back-channel deliveries it causes; and no credential reaches the collector.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{body::Bytes, http::HeaderMap, routing::post, Router};
use reqwest::StatusCode;
use serde_json::{json, Value};
use signoff::server::domain::oidc::{clients, NewClient};

use crate::{
    helpers::{FORM_ACCEPT, PASSWORD},
    logout_engine::spawn_process_with,
};

/// One POST: its `traceparent` header and its body.
type Post = (Option<String>, Bytes);

/// What one listener got: each POST's body and its `traceparent` header.
#[derive(Clone, Default)]
struct Listener {
    url: String,
    got: Arc<Mutex<Vec<Post>>>,
}

impl Listener {
    async fn start(path: &'static str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let me = Listener {
            url: format!("http://{}", listener.local_addr().unwrap()),
            got: Default::default(),
        };
        let got = me.got.clone();
        let app = Router::new().route(
            path,
            post(move |headers: HeaderMap, body: Bytes| {
                let got = got.clone();
                async move {
                    let traceparent = headers
                        .get("traceparent")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    got.lock().unwrap().push((traceparent, body));
                    StatusCode::OK
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        me
    }

    fn bodies(&self) -> Vec<u8> {
        let got = self.got.lock().unwrap();
        got.iter().flat_map(|(_, b)| b.to_vec()).collect()
    }

    fn trace_ids(&self) -> Vec<String> {
        let got = self.got.lock().unwrap();
        got.iter()
            .filter_map(|(t, _)| Some(t.as_deref()?.split('-').nth(1)?.to_owned()))
            .collect()
    }

    fn count(&self) -> usize {
        self.got.lock().unwrap().len()
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// The trace the browser's logout comes with, and the API's.
const BROWSER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const API_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";

#[tokio::test]
async fn a_logouts_trace_reaches_the_collector_and_its_deliveries_and_carries_no_secret() {
    let collector = Listener::start("/v1/traces").await;
    let webhook = Listener::start("/hook").await;
    let backchannel = Listener::start("/backchannel").await;
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}/signoff.db?mode=rwc", dir.path().display());
    let hook = format!("{}/hook", webhook.url);
    let server = spawn_process_with(
        &database_url,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.url),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("SIGNOFF_LOG_FORMAT", "json"),
            ("SIGNOFF_WEBHOOK_URLS", &hook),
            ("SIGNOFF_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ],
    );
    let base = server.address.clone();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // An OpenID client with a back-channel receiver.
    let db = signoff::server::db::Db::connect(&database_url)
        .await
        .unwrap();
    let (client, secret) = clients::add(
        &db,
        &NewClient {
            name: "Traced".into(),
            redirect_uris: vec![crate::oidc::REDIRECT.into()],
            backchannel_logout_uri: Some(format!("{}/backchannel", backchannel.url)),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let client_secret = secrecy::ExposeSecret::expose_secret(secret.as_ref().unwrap()).to_owned();

    // An account; a browser sign-in that signs in to the client; an API sign-in (seed 004).
    let (cookie, code, tokens) =
        crate::oidc::code_flow_over_http(&http, &base, &client.client_id, &client_secret).await;
    let cookie_value = cookie.split_once('=').unwrap().1.to_owned();
    let form = |path: &str, cookie: Option<&str>, trace: Option<&str>, fields: &[(&str, &str)]| {
        let mut req = http
            .post(format!("{base}{path}"))
            .header("accept", FORM_ACCEPT)
            .header("sec-fetch-site", "same-origin")
            .form(fields);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        if let Some(t) = trace {
            req = req.header("traceparent", format!("00-{t}-00f067aa0ba902b7-01"));
        }
        req.send()
    };
    let (access, refresh) = crate::helpers::jwt_pair_at(&http, &base, "ada@example.com").await;
    let res = http
        .get(format!("{base}/api/v1/account/me"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // Both log out, each in a trace of its caller's.
    let res = form("/_fn/logout", Some(&cookie), Some(BROWSER_TRACE), &[])
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = http
        .post(format!("{base}/api/auth/logout"))
        .bearer_auth(&access)
        .header("traceparent", format!("00-{API_TRACE}-00f067aa0ba902b7-01"))
        .json(&json!({"refresh_token": refresh}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());

    // Each delivery continues the trace of the logout that caused it.
    until("two webhooks and a logout token", || {
        webhook.count() >= 2 && backchannel.count() >= 1
    })
    .await;
    let mut hooks = webhook.trace_ids();
    hooks.sort();
    assert_eq!(
        hooks,
        [API_TRACE, BROWSER_TRACE],
        "the webhooks' traceparent"
    );
    assert_eq!(
        backchannel.trace_ids(),
        [BROWSER_TRACE],
        "the logout token's"
    );

    // The collector gets the request, the ending, the group commit and the deliveries, in the
    // callers' traces (trace ids travel as 16 raw bytes).
    let names: &[&[u8]] = &[
        b"POST /_fn/logout",
        b"POST /api/auth/logout",
        b"http.route",
        b"logout.ending",
        b"logout.reason",
        b"logout.group_commit",
        b"outbox.delivery",
        b"backchannel",
    ];
    until("every span at the collector", || {
        let got = collector.bodies();
        names.iter().all(|n| contains(&got, n))
            && contains(&got, &hex::decode(BROWSER_TRACE).unwrap())
            && contains(&got, &hex::decode(API_TRACE).unwrap())
            // Two deliveries in the browser's trace: the webhook and the logout token.
            && got.windows(15).filter(|w| *w == b"outbox.delivery").count() >= 3
    })
    .await;

    // No credential in anything the collector got.
    let got = collector.bodies();
    let secrets = [
        PASSWORD,
        &cookie_value,
        &access,
        &refresh,
        &client_secret,
        &code,
        tokens["access_token"].as_str().unwrap(),
        tokens["refresh_token"].as_str().unwrap(),
        tokens["id_token"].as_str().unwrap(),
        WEBHOOK_SECRET,
        "ada@example.com",
    ];
    for secret in secrets {
        assert!(
            !contains(&got, secret.as_bytes()),
            "the collector got {secret}"
        );
    }

    // The JSON logs name the same trace on the request's lines and the delivery's.
    let log = server.log.lock().unwrap().join("\n");
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    let delivered: Vec<&Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "delivered")
        .collect();
    assert!(
        delivered
            .iter()
            .any(|l| l["fields"]["trace_id"] == BROWSER_TRACE),
        "{delivered:#?}"
    );
    assert!(
        lines.iter().any(|l| l["spans"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s["trace_id"] == API_TRACE))),
        "no line in the API logout's trace"
    );
    for secret in &secrets[..secrets.len() - 1] {
        assert!(!log.contains(secret), "the logs carry {secret}");
    }
}
