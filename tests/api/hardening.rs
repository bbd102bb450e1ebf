//! Hardening of the HTTP side: `X-Forwarded-For` believed only from trusted proxies, a body limit
//! on every route (pages and server functions too), slow clients cut off after the header-read
//! timeout, and `/events` capped per user and per instance.

use std::time::{Duration, Instant};

use reqwest::{header, StatusCode};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{spawn_app_with, TestApp, FORM_ACCEPT, PASSWORD};

/// Seed 000's login as sent through a proxy that says the client is `forwarded`.
pub async fn login_via(app: &TestApp, email: &str, password: &str, forwarded: &str) -> StatusCode {
    app.client
        .post(app.url("/api/v1/account/login"))
        .header("x-forwarded-for", forwarded)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
        .status()
}

/// The address the latest sign-in was recorded with.
async fn recorded_ip(app: &TestApp) -> String {
    app.sql_text("SELECT COALESCE(ip, '') FROM signins ORDER BY created_at DESC, id DESC LIMIT 1")
        .await
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_is_the_client_and_is_throttled() {
    let app = spawn_app_with(|c| {
        c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    app.create_user("ada@example.com").await;
    // The right-most entry the proxy did not write: what the client put before it is ignored.
    let status = login_via(&app, "ada@example.com", PASSWORD, "192.0.2.1, 203.0.113.9").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(recorded_ip(&app).await, "203.0.113.9");
    // Wrong passwords for ever new accounts from one forwarded address: the address is throttled
    // (the test client's own address, loopback, is never counted, so without the forwarded
    // address this would go on for ever).
    let mut throttled = false;
    for i in 0..400 {
        match login_via(
            &app,
            &format!("nobody{i}@example.com"),
            "wrong!",
            "203.0.113.9",
        )
        .await
        {
            StatusCode::UNAUTHORIZED => continue,
            StatusCode::TOO_MANY_REQUESTS => {
                throttled = true;
                break;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(throttled, "the forwarded address was never throttled");
    assert_eq!(
        login_via(&app, "someone@example.com", "wrong!", "203.0.113.9").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another client behind the same proxy is not.
    assert_eq!(
        login_via(&app, "someone@example.com", "wrong!", "198.51.100.7").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login_via(&app, "ada@example.com", PASSWORD, "198.51.100.7").await,
        StatusCode::OK
    );
    assert_eq!(recorded_ip(&app).await, "198.51.100.7");
}

#[tokio::test]
async fn without_trusted_proxies_a_forged_forwarded_for_changes_nothing() {
    let app = spawn_app_with(|_| {}).await;
    app.create_user("ada@example.com").await;
    let status = login_via(&app, "ada@example.com", PASSWORD, "203.0.113.9").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(recorded_ip(&app).await, "127.0.0.1");
    // A peer that is not in the list is not believed either.
    let app = spawn_app_with(|c| {
        c.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap()];
    })
    .await;
    app.create_user("ada@example.com").await;
    let status = login_via(&app, "ada@example.com", PASSWORD, "203.0.113.9").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(recorded_ip(&app).await, "127.0.0.1");
}

/// `body` sent chunked (no declared length) as a form post to `path`; the raw answer.
async fn post_chunked(app: &TestApp, path: &str, content_type: &str, body: &str) -> String {
    let headers = [
        ("Content-Type", content_type),
        ("Accept", FORM_ACCEPT),
        ("Sec-Fetch-Site", "same-origin"),
    ];
    app.post_chunked(path, &headers, body).await
}

#[tokio::test]
async fn a_body_over_16_kib_is_413_on_server_functions_and_pages_too() {
    let app = spawn_app_with(|_| {}).await;
    app.create_user("ada@example.com").await;
    let big = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("email", "ada@example.com"),
            ("password", &"x".repeat(20 * 1024)),
        ])
        .finish();
    for path in ["/_fn/login", "/login", "/", "/no/such/page", "/events"] {
        let res = app
            .client
            .post(app.url(path))
            .header(header::ACCEPT, FORM_ACCEPT)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("sec-fetch-site", "same-origin")
            .body(big.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
    }
    // Sent chunked, the reading stops past 16 KiB.
    let form = "application/x-www-form-urlencoded";
    let answer = post_chunked(&app, "/_fn/login", form, &big).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    // Within the limit, a chunked form is read whole and signs in as ever.
    let small = format!(
        "email=ada%40example.com&password={}",
        PASSWORD.replace(' ', "+")
    );
    let answer = post_chunked(&app, "/_fn/login", form, &small).await;
    assert!(answer.starts_with("HTTP/1.1 303"), "{answer}");
    // The APIs keep their own envelopes.
    let res = app
        .post_json(
            "/api/v1/account/login",
            &json!({"email": "a", "password": "x".repeat(20 * 1024)}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap(),
        json!({"error": {"code": 413, "message": "The request body is too large."}})
    );
}

/// Reads until the server closes the connection; how long that took, if within `within`.
async fn closed_within(conn: &mut tokio::net::TcpStream, within: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    tokio::time::timeout(within, async {
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => return start.elapsed(),
                Ok(_) => continue,
            }
        }
    })
    .await
    .ok()
}

#[tokio::test]
async fn a_client_that_stalls_in_its_headers_is_disconnected_after_the_timeout() {
    let app = spawn_app_with(|c| c.header_timeout = Duration::from_secs(1)).await;
    let addr = app.address.trim_start_matches("http://").to_owned();
    // Half a head, then nothing.
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .await
        .unwrap();
    let took = closed_within(&mut slow, Duration::from_secs(6))
        .await
        .expect("the server closes a connection whose head never ends");
    assert!(took >= Duration::from_millis(800), "closed after {took:?}");
    // Nothing at all: the same.
    let mut silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
    closed_within(&mut silent, Duration::from_secs(6))
        .await
        .expect("the server closes a connection that sends nothing");
    // A prompt client is served as ever.
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn connections_past_the_bound_wait_until_one_closes() {
    let app = spawn_app_with(|c| {
        c.max_connections = 2;
        c.header_timeout = Duration::from_secs(2);
    })
    .await;
    let addr = app.address.trim_start_matches("http://").to_owned();
    let _a = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let _b = tokio::net::TcpStream::connect(&addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Both places are taken by silent clients: a third waits until the timeout frees one.
    let start = Instant::now();
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        start.elapsed() >= Duration::from_millis(1000),
        "answered after {:?}",
        start.elapsed()
    );
}

/// `GET /events` with a session cookie: the status, and the response (an open stream on 200).
async fn events(app: &TestApp, cookie: &str) -> reqwest::Response {
    app.client
        .get(app.url("/events"))
        .header(header::COOKIE, cookie)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn events_past_the_per_user_cap_are_429_and_a_closed_stream_frees_its_place() {
    let app = spawn_app_with(|c| c.events_per_user = 2).await;
    app.create_user("ada@example.com").await;
    app.create_user("bob@example.com").await;
    // Three sign-ins of one user: the cap counts the user's streams, whichever sign-in holds them.
    let cookies = [
        app.browser_login("ada@example.com").await,
        app.browser_login("ada@example.com").await,
        app.browser_login("ada@example.com").await,
    ];
    let first = events(&app, &cookies[0]).await;
    assert_eq!(first.status(), StatusCode::OK);
    let second = events(&app, &cookies[1]).await;
    assert_eq!(second.status(), StatusCode::OK);
    let refused = events(&app, &cookies[2]).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    // Another user is not affected.
    let bob = app.browser_login("bob@example.com").await;
    let bobs = events(&app, &bob).await;
    assert_eq!(bobs.status(), StatusCode::OK);
    // A stream that closes gives its place back.
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let res = events(&app, &cookies[2]).await;
        if res.status() == StatusCode::OK {
            break;
        }
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(
            Instant::now() < deadline,
            "the closed stream's place was never freed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop((second, bobs));
}

#[tokio::test]
async fn events_past_the_instance_cap_are_429() {
    let app = spawn_app_with(|c| c.events_max = 1).await;
    app.create_user("ada@example.com").await;
    app.create_user("bob@example.com").await;
    let ada = app.browser_login("ada@example.com").await;
    let bob = app.browser_login("bob@example.com").await;
    let open = events(&app, &ada).await;
    assert_eq!(open.status(), StatusCode::OK);
    assert_eq!(
        events(&app, &bob).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    drop(open);
}
