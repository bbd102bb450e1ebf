//! The OpenAPI document, the reference page, and what reaches the logs.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{captured_logs, spawn_app, PASSWORD};

#[tokio::test]
async fn the_openapi_document_is_3_1_and_lists_every_json_endpoint() {
    let app = spawn_app().await;
    let res = app.get("/api/openapi.json", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let expected = [
        ("/api/v1/account/register", "post"),
        ("/api/v1/account/login", "post"),
        ("/api/v1/account/me", "get"),
        ("/api/v1/account/logout", "get"),
        ("/auth/logout", "post"),
        ("/api/v1/logout", "delete"),
        ("/api/auth/login", "post"),
        ("/api/auth/refresh", "post"),
        ("/api/auth/logout", "post"),
        ("/oauth/revoke", "post"),
    ];
    let paths = doc["paths"].as_object().unwrap();
    assert_eq!(
        paths.len(),
        expected.len(),
        "{:?}",
        paths.keys().collect::<Vec<_>>()
    );
    for (path, method) in expected {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is documented");
        assert!(
            // Registering needs no credential; RFC 7009 answers 200 for any token, even a bad one.
            op["responses"]["401"].is_object()
                || path.ends_with("register")
                || path == "/oauth/revoke",
            "{method} {path} documents 401"
        );
    }
    assert_eq!(
        doc["paths"]["/auth/logout"]["post"]["responses"]
            .as_object()
            .unwrap()
            .len(),
        12
    );
    // Kept for the standard validator that scripts/test runs on it.
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/openapi.json");
    std::fs::write(out, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
}

#[tokio::test]
async fn the_api_reference_page_is_public_and_lists_the_endpoints() {
    let app = spawn_app().await;
    let res = app.get("/docs/api", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    for needle in [
        "API reference",
        "/api/v1/account/logout",
        "/auth/logout",
        "/api/auth/refresh",
        "DELETE",
        "/api/openapi.json",
        "/clients/signoff.js",
        "clients/go",
        "clients/php",
    ] {
        assert!(html.contains(needle), "{needle}");
    }
}

#[tokio::test]
async fn the_javascript_client_is_served_for_browsers() {
    let app = spawn_app().await;
    let res = app.get("/clients/signoff.js", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("export class SignoffClient"));
}

#[tokio::test]
async fn no_token_or_password_ever_reaches_the_log() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let opaque = app.opaque_token("ada@example.com").await;
    let (access, refresh) = app.jwt_pair("ada@example.com").await;
    let cookie = app.browser_login("ada@example.com").await;
    let session_id = cookie.split_once('=').unwrap().1.to_owned();
    // Tokens in the query string, headers and bodies, on success and on failure paths.
    app.get(&format!("/api/v1/account/me?token={opaque}"), None)
        .await;
    app.get(&format!("/api/v1/account/nope?token={opaque}"), None)
        .await;
    app.bare(
        Method::POST,
        &format!("/api/v1/account/logout?token={opaque}"),
    )
    .await;
    app.refresh_004(&json!({"refresh_token": refresh})).await;
    app.refresh_004(&json!({"refresh_token": refresh})).await;
    app.client
        .post(app.url("/auth/logout"))
        .bearer_auth(&access)
        .body("{not json")
        .send()
        .await
        .unwrap();
    app.logout_000(&opaque).await;
    app.logout_000(&opaque).await;
    app.form("logout", Some(&cookie), &[]).await;
    app.login_form("ada@example.com", "wrong password 123", None)
        .await;

    let logs = captured_logs();
    assert!(
        logs.contains("/api/v1/account/logout"),
        "the log capture works: {} bytes",
        logs.len()
    );
    for secret in [
        opaque.as_str(),
        access.as_str(),
        refresh.as_str(),
        session_id.as_str(),
        PASSWORD,
        "wrong password 123",
    ] {
        assert!(
            !logs.contains(secret),
            "a secret reached the log: {}…",
            &secret[..8]
        );
    }
}

#[tokio::test]
async fn json_logs_carry_each_requests_trace_id_and_no_secret() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let server = crate::logout_engine::spawn_process_with(
        &app.database_url,
        &[("SIGNOFF_LOG_FORMAT", "json")],
    );
    let client = &app.client;
    let token = app.opaque_token("ada@example.com").await;
    // A caller's trace continues here; another request gets a trace of its own.
    let traced = "4bf92f3577b34da6a3ce929d0e0e4736";
    let res = client
        .delete(format!("{}/api/v1/logout", server.address))
        .bearer_auth(&token)
        .header("traceparent", format!("00-{traced}-00f067aa0ba902b7-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = client
        .post(format!("{}/api/v1/account/login", server.address))
        .json(&serde_json::json!({"email": "ada@example.com", "password": "wrong but secret"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let log = server.log.lock().unwrap().clone();
    let lines: Vec<serde_json::Value> = log
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    let trace_ids: Vec<&str> = lines
        .iter()
        .filter_map(|l| l["spans"].as_array())
        .flatten()
        .filter_map(|span| span["trace_id"].as_str())
        .collect();
    assert!(trace_ids.contains(&traced), "{log:#?}");
    assert!(
        trace_ids.iter().any(|t| *t != traced && t.len() == 32),
        "the login has a trace of its own: {log:#?}"
    );
    for secret in [token.as_str(), "wrong but secret", "ada@example.com"] {
        assert!(
            !log.iter().any(|l| l.contains(secret)),
            "{secret} is logged"
        );
    }
}
