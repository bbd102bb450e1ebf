//! Seed 001: `POST /auth/logout` (bearer or cookie, scopes), row by row of `API.md`: status, exact
//! body and named headers.

use reqwest::{header, Method, StatusCode};
use serde_json::json;

use crate::helpers::{app_with_user, expect_json, unauthorized_001};

#[tokio::test]
async fn seed_001_logout_with_a_bearer_token_is_200() {
    let app = app_with_user().await;
    let token = app.opaque_token("ada@example.com").await;
    let res = app.logout_001(&token, None).await;
    expect_json(
        res,
        StatusCode::OK,
        json!({"message": "Logged out successfully"}),
    )
    .await;
    assert!(!app.accepted(&token).await);
    let res = app.logout_001(&token, None).await;
    expect_json(res, StatusCode::UNAUTHORIZED, unauthorized_001()).await;
}

#[tokio::test]
async fn seed_001_without_credentials_is_401() {
    let app = app_with_user().await;
    let res = app.bare(Method::POST, "/auth/logout").await;
    expect_json(res, StatusCode::UNAUTHORIZED, unauthorized_001()).await;
}

#[tokio::test]
async fn seed_001_a_body_that_is_not_a_json_object_is_400_and_revokes_nothing() {
    let app = app_with_user().await;
    let token = app.opaque_token("ada@example.com").await;
    for body in ["{", "[]", "\"global\"", "null", "scope=global"] {
        let res = app
            .client
            .post(app.url("/auth/logout"))
            .bearer_auth(&token)
            .body(body)
            .send()
            .await
            .unwrap();
        expect_json(
            res,
            StatusCode::BAD_REQUEST,
            json!({"message": "Invalid input data", "description": "The request data did not pass validation", "code": "INVALID_INPUT"}),
        )
        .await;
    }
    assert!(app.accepted(&token).await);
}

#[tokio::test]
async fn seed_001_a_bad_scope_or_both_fields_is_422_and_revokes_nothing() {
    let app = app_with_user().await;
    let token = app.opaque_token("ada@example.com").await;
    let cases = [
        (
            json!({"scope": "everything"}),
            "scope must be one of \"local\", \"others\", \"global\".",
        ),
        (
            json!({"scope": 1}),
            "scope must be one of \"local\", \"others\", \"global\".",
        ),
        (
            json!({"scope": "local", "session_id": "x"}),
            "Send either scope or session_id, not both.",
        ),
        (
            json!({"session_id": ""}),
            "session_id must be a non-empty string.",
        ),
    ];
    for (body, description) in cases {
        let res = app.logout_001(&token, Some(body.clone())).await;
        expect_json(
            res,
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"message": "Validation error", "description": description, "code": "VALIDATION_ERROR"}),
        )
        .await;
    }
    assert!(app.accepted(&token).await);
}

#[tokio::test]
async fn seed_001_session_id_of_no_signin_of_this_user_is_404_and_of_an_ended_one_409() {
    let app = app_with_user().await;
    app.create_user("bob@example.com").await;
    let mine = app.opaque_token("ada@example.com").await;
    let other_device = app.opaque_token("ada@example.com").await;
    let bobs = app.opaque_token("bob@example.com").await;
    let signin_of = |token: &str| {
        let digest = signoff::server::domain::opaque::digest(token);
        format!("SELECT signin_id FROM tokens WHERE digest = '{digest}'")
    };
    let other_id: String = signoff::with_pool!(app.state.auth.db(), p => sqlx::query_scalar(&signin_of(&other_device))
            .fetch_one(p)
            .await
            .unwrap());
    let bobs_id: String = signoff::with_pool!(app.state.auth.db(), p => sqlx::query_scalar(&signin_of(&bobs))
            .fetch_one(p)
            .await
            .unwrap());
    let not_found = json!({"message": "Resource not found", "description": "The requested resource could not be found", "code": "NOT_FOUND"});
    for id in [bobs_id.as_str(), "no-such-sign-in"] {
        let res = app.logout_001(&mine, Some(json!({"session_id": id}))).await;
        expect_json(res, StatusCode::NOT_FOUND, not_found.clone()).await;
    }
    assert!(
        app.accepted(&bobs).await,
        "another user's sign-in is untouched"
    );

    let res = app
        .logout_001(&mine, Some(json!({"session_id": other_id})))
        .await;
    expect_json(
        res,
        StatusCode::OK,
        json!({"message": "Logged out successfully"}),
    )
    .await;
    assert!(!app.accepted(&other_device).await);
    assert!(app.accepted(&mine).await, "the caller stays signed in");

    let res = app
        .logout_001(&mine, Some(json!({"session_id": other_id})))
        .await;
    expect_json(
        res,
        StatusCode::CONFLICT,
        json!({"message": "Resource conflict", "description": "The resource already exists or is in an invalid state", "code": "CONFLICT"}),
    )
    .await;
}

#[tokio::test]
async fn seed_001_with_the_browser_cookie_logs_the_browser_out() {
    let app = app_with_user().await;
    let cookie = app.browser_login("ada@example.com").await;
    let res = app
        .client
        .post(app.url("/auth/logout"))
        .header(header::COOKIE, &cookie)
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    expect_json(
        res,
        StatusCode::OK,
        json!({"message": "Logged out successfully"}),
    )
    .await;
    assert_eq!(
        crate::helpers::location(&app.get("/", Some(&cookie)).await),
        "/login"
    );
}

#[tokio::test]
async fn seed_001_a_cross_site_cookie_request_is_403_and_changes_nothing() {
    let app = app_with_user().await;
    let cookie = app.browser_login("ada@example.com").await;
    for (name, value) in [
        ("sec-fetch-site", "cross-site"),
        ("origin", "https://evil.example"),
    ] {
        let res = app
            .client
            .post(app.url("/auth/logout"))
            .header(header::COOKIE, &cookie)
            .header(name, value)
            .json(&json!({"scope": "global"}))
            .send()
            .await
            .unwrap();
        expect_json(
            res,
            StatusCode::FORBIDDEN,
            json!({"message": "Forbidden", "description": "You don't have permission to access this resource", "code": "FORBIDDEN"}),
        )
        .await;
    }
    assert_eq!(
        app.get("/", Some(&cookie)).await.status(),
        StatusCode::OK,
        "still signed in"
    );
}

#[tokio::test]
async fn seed_001_wrong_method_405_unknown_path_404() {
    let app = app_with_user().await;
    let res = app.get("/auth/logout", None).await;
    let headers = expect_json(
        res,
        StatusCode::METHOD_NOT_ALLOWED,
        json!({"message": "Method not allowed", "description": "This endpoint does not support that HTTP method", "code": "METHOD_NOT_ALLOWED"}),
    )
    .await;
    assert_eq!(headers[header::ALLOW], "POST");
    let res = app.bare(Method::POST, "/auth/nope").await;
    expect_json(
        res,
        StatusCode::NOT_FOUND,
        json!({"message": "Resource not found", "description": "The requested resource could not be found", "code": "NOT_FOUND"}),
    )
    .await;
}
