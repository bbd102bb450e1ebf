//! RFC 7009: `POST /oauth/revoke`.

use reqwest::{header, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

async fn revoke(app: &TestApp, form: &[(&str, &str)]) -> reqwest::Response {
    app.client
        .post(app.url("/oauth/revoke"))
        .form(form)
        .send()
        .await
        .unwrap()
}

/// 200 with an empty body, as the RFC answers every revocation that is not malformed.
async fn expect_ok(res: reqwest::Response) {
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    assert_eq!(res.text().await.unwrap(), "");
}

async fn expect_error(res: reqwest::Response, status: StatusCode, error: &str) {
    assert_eq!(res.status(), status);
    assert!(res.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({ "error": error })
    );
}

async fn end_reason(app: &TestApp) -> String {
    app.sql_text("SELECT COALESCE(MAX(end_reason), '') FROM signins WHERE ended_at IS NOT NULL")
        .await
}

#[tokio::test]
async fn an_opaque_token_is_revoked_and_a_second_revocation_is_still_200() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let token = app.opaque_token("ada@example.com").await;
    let other = app.opaque_token("ada@example.com").await;
    expect_ok(revoke(&app, &[("token", &token)]).await).await;
    assert!(!app.accepted(&token).await);
    assert!(app.accepted(&other).await, "only that token's sign-in ends");
    assert_eq!(end_reason(&app).await, "revoked");
    expect_ok(
        revoke(
            &app,
            &[("token", &token), ("token_type_hint", "access_token")],
        )
        .await,
    )
    .await;
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM signins WHERE ended_at IS NOT NULL")
            .await,
        1
    );
}

#[tokio::test]
async fn a_jwt_access_token_ends_its_sign_in_refresh_token_included() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let (access, refresh) = app.jwt_pair("ada@example.com").await;
    expect_ok(revoke(&app, &[("token", &access)]).await).await;
    assert!(!app.accepted(&access).await);
    let res = app.refresh_004(&json!({ "refresh_token": refresh })).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(end_reason(&app).await, "revoked");
}

#[tokio::test]
async fn a_refresh_token_ends_its_whole_sign_in_with_or_without_the_hint() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    for hint in [Some("refresh_token"), None, Some("access_token")] {
        let (access, refresh) = app.jwt_pair("ada@example.com").await;
        let mut form = vec![("token", refresh.as_str())];
        if let Some(hint) = hint {
            form.push(("token_type_hint", hint));
        }
        expect_ok(revoke(&app, &form).await).await;
        assert!(!app.accepted(&access).await, "hint {hint:?}");
        // Already revoked: still 200, nothing more ends.
        expect_ok(revoke(&app, &form).await).await;
    }
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM signins WHERE end_reason = 'revoked'")
            .await,
        3
    );
}

#[tokio::test]
async fn unknown_malformed_and_unsupported_hints_are_200_and_end_nothing() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let token = app.opaque_token("ada@example.com").await;
    for junk in [
        "so_at_unknown",
        "not a token",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln",
    ] {
        expect_ok(revoke(&app, &[("token", junk)]).await).await;
    }
    expect_ok(
        revoke(
            &app,
            &[("token", "so_at_x"), ("token_type_hint", "id_token")],
        )
        .await,
    )
    .await;
    assert!(app.accepted(&token).await);
}

#[tokio::test]
async fn malformed_requests_get_rfc_6749_errors_that_repeat_nothing() {
    let app = spawn_app().await;
    expect_error(
        revoke(&app, &[]).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    expect_error(
        revoke(&app, &[("token", "")]).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    expect_error(
        revoke(&app, &[("token", "a"), ("token", "b")]).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    let json = app
        .client
        .post(app.url("/oauth/revoke"))
        .json(&json!({ "token": "so_at_secret-value" }))
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), StatusCode::BAD_REQUEST);
    let body = json.text().await.unwrap();
    assert_eq!(body, r#"{"error":"invalid_request"}"#);
    let get = app.get("/oauth/revoke", None).await;
    assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(get.headers()[header::ALLOW], "POST");
    expect_error(get, StatusCode::METHOD_NOT_ALLOWED, "invalid_request").await;
    let big = "x".repeat(20 * 1024);
    expect_error(
        revoke(&app, &[("token", &big)]).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "invalid_request",
    )
    .await;
}

#[tokio::test]
async fn a_database_outage_is_503_temporarily_unavailable() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let token = app.opaque_token("ada@example.com").await;
    app.cut_database().await;
    let res = revoke(&app, &[("token", &token)]).await;
    assert!(res.headers().contains_key(header::RETRY_AFTER));
    expect_error(
        res,
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
    )
    .await;
}

#[tokio::test]
async fn the_openapi_document_describes_the_endpoint() {
    let app = spawn_app().await;
    let doc: Value = app
        .get("/api/openapi.json", None)
        .await
        .json()
        .await
        .unwrap();
    let op = &doc["paths"]["/oauth/revoke"]["post"];
    assert!(
        op["requestBody"]["content"]["application/x-www-form-urlencoded"].is_object(),
        "{op}"
    );
    assert!(op["responses"]["200"].is_object());
    assert!(op["responses"]["400"].is_object());
}
