//! Seed 000: `/api/v1/account/*` (register, login, me, `GET logout?token=`), row by row of `API.md`:
//! status, exact body and named headers.

use reqwest::{header, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{app_with_user, expect_json, spawn_app, unauthorized_000};

#[tokio::test]
async fn seed_000_logout_with_a_query_token_is_200_and_the_token_is_dead() {
    let app = app_with_user().await;
    let token = app.opaque_token("ada@example.com").await;
    let res = app.logout_000(&token).await;
    let headers = expect_json(
        res,
        StatusCode::OK,
        json!({"data": {"message": "You have logged out."}}),
    )
    .await;
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
    assert!(!app.accepted(&token).await);
    // A second logout with the same token is 401.
    let res = app.logout_000(&token).await;
    let headers = expect_json(res, StatusCode::UNAUTHORIZED, unauthorized_000()).await;
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
}

#[tokio::test]
async fn seed_000_logout_accepts_a_bearer_header() {
    let app = app_with_user().await;
    let token = app.opaque_token("ada@example.com").await;
    let res = app
        .client
        .get(app.url("/api/v1/account/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    expect_json(
        res,
        StatusCode::OK,
        json!({"data": {"message": "You have logged out."}}),
    )
    .await;
    assert!(!app.accepted(&token).await);
}

#[tokio::test]
async fn seed_000_logout_without_a_token_is_422() {
    let app = app_with_user().await;
    for path in [
        "/api/v1/account/logout",
        "/api/v1/account/logout?token=",
        "/api/v1/account/logout?other=1",
    ] {
        let res = app.get(path, None).await;
        let headers = expect_json(
            res,
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"error": {"message": "Failed validation.", "code": 422}}),
        )
        .await;
        assert_eq!(headers[header::REFERRER_POLICY], "no-referrer", "{path}");
    }
}

#[tokio::test]
async fn seed_000_logout_with_an_unknown_token_is_401() {
    let app = app_with_user().await;
    let res = app.logout_000("so_at_nope").await;
    expect_json(res, StatusCode::UNAUTHORIZED, unauthorized_000()).await;
}

#[tokio::test]
async fn seed_000_other_methods_are_405_with_allow() {
    let app = app_with_user().await;
    let token = app.opaque_token("ada@example.com").await;
    for method in [
        reqwest::Method::POST,
        reqwest::Method::DELETE,
        reqwest::Method::PUT,
    ] {
        let res = app
            .client
            .request(
                method.clone(),
                app.url(&format!("/api/v1/account/logout?token={token}")),
            )
            .send()
            .await
            .unwrap();
        let headers = expect_json(
            res,
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"error": {"message": "Method not allowed.", "code": 405}}),
        )
        .await;
        // GET only: a HEAD must never log out (second round).
        assert_eq!(headers[header::ALLOW], "GET", "{method}");
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    }
    assert!(app.accepted(&token).await, "nothing was revoked");
}

#[tokio::test]
async fn seed_000_login_and_me() {
    let app = app_with_user().await;
    let res = app
        .login_000(&json!({"email": "ADA@example.com", "password": crate::helpers::PASSWORD}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: serde_json::Value = res.json().await.unwrap();
    let token = body["data"]["token"].as_str().unwrap();
    assert!(
        token.starts_with("so_at_") && token.len() >= 6 + 43,
        "{token}"
    );
    assert_eq!(body["data"]["token_type"], "Bearer");
    assert!(body["data"]["expires_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(body["data"]["user"]["email"], "ada@example.com");

    let res = app
        .get(&format!("/api/v1/account/me?token={token}"), None)
        .await;
    let user = body["data"]["user"].clone();
    expect_json(res, StatusCode::OK, json!({"data": {"user": user}})).await;
    let res = app.get("/api/v1/account/me", None).await;
    expect_json(res, StatusCode::UNAUTHORIZED, unauthorized_000()).await;
}

#[tokio::test]
async fn seed_000_wrong_password_and_unknown_email_get_the_same_401() {
    let app = app_with_user().await;
    for (email, password) in [
        ("ada@example.com", "wrong password"),
        ("bob@example.com", crate::helpers::PASSWORD),
    ] {
        let res = app
            .login_000(&json!({"email": email, "password": password}))
            .await;
        expect_json(
            res,
            StatusCode::UNAUTHORIZED,
            json!({"error": {"message": "Invalid credentials.", "code": 401}}),
        )
        .await;
    }
}

// ---- register, and the envelope of the whole `/api/v1/account/` prefix ----

async fn body(res: reqwest::Response) -> Value {
    res.json().await.expect("a JSON body")
}

#[tokio::test]
async fn register_creates_an_account_with_a_normalised_email() {
    let app = spawn_app().await;
    let res = app
        .register_api(&json!({"email": "  Ada@Example.COM ", "password": "correct horse"}))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    assert_eq!(res.headers()[header::REFERRER_POLICY], "no-referrer");
    let body = body(res).await;
    assert_eq!(body["data"]["user"]["email"], "ada@example.com");
    let id = body["data"]["user"]["id"].as_str().unwrap();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert_eq!(body.as_object().unwrap().len(), 1);
    assert_eq!(
        body["data"]["user"].as_object().unwrap().len(),
        2,
        "no hash or other field leaks: {body}"
    );
}

#[tokio::test]
async fn register_with_a_taken_email_is_409_whatever_its_case() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let res = app
        .register_api(&json!({"email": "ADA@example.com", "password": "another password"}))
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(
        body(res).await,
        json!({"error": {"message": "An account with this email already exists.", "code": 409}})
    );
}

#[tokio::test]
async fn register_with_a_bad_email_or_short_password_is_422() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"email": "not-an-email", "password": "long enough"}),
            "Enter a valid email address.",
        ),
        (
            json!({"email": "ada@example.com", "password": "short"}),
            "The password must be at least 8 characters.",
        ),
        (
            json!({"email": "ada@example.com", "password": "x".repeat(1025)}),
            "The password must be at most 1024 characters.",
        ),
        (
            json!({"email": "ada@example.com"}),
            "Failed validation: missing field `password`.",
        ),
        (
            json!({"email": 5, "password": "long enough"}),
            // Never serde's "invalid type: integer `5`": no error repeats a submitted value.
            "Failed validation: a field is not a string.",
        ),
    ];
    for (input, message) in cases {
        let res = app.register_api(&input).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{input}");
        assert_eq!(
            body(res).await,
            json!({"error": {"message": message, "code": 422}}),
            "{input}"
        );
    }
    // Nothing was created by any of them.
    let res = app
        .register_api(&json!({"email": "ada@example.com", "password": "long enough"}))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn malformed_json_is_400_in_the_envelope() {
    let app = spawn_app().await;
    for raw in ["{", "", "[1,2", "[1,2]", "\"just a string\"", "null"] {
        let res = app
            .client
            .post(format!("{}/api/v1/account/register", app.address))
            .header(header::CONTENT_TYPE, "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{raw:?}");
        assert_eq!(
            body(res).await,
            json!({"error": {"message": "Invalid parameter value in the request.", "code": 400}})
        );
    }
}

#[tokio::test]
async fn wrong_method_is_405_with_allow_unknown_path_404_huge_body_413() {
    let app = spawn_app().await;
    let res = app.get("/api/v1/account/register", None).await;
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers()[header::ALLOW], "POST");
    assert_eq!(
        body(res).await,
        json!({"error": {"message": "Method not allowed.", "code": 405}})
    );

    let res = app.get("/api/v1/account/nope", None).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        body(res).await,
        json!({"error": {"message": "The request URL is invalid.", "code": 404}})
    );

    let huge = json!({"email": "ada@example.com", "password": "x".repeat(17 * 1024)});
    let res = app.register_api(&huge).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        body(res).await,
        json!({"error": {"message": "The request body is too large.", "code": 413}})
    );
}
