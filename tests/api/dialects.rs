//! The five logout dialects, row by row of `API.md`: status, exact body and named headers.

use reqwest::{header, StatusCode};
use serde_json::json;

use crate::helpers::{expect_json, spawn_app, TestApp};

async fn app_with_user() -> TestApp {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    app
}

fn unauthorized_000() -> serde_json::Value {
    json!({"error": {"message": "Token invalid.", "code": 401}})
}
fn unauthorized_001() -> serde_json::Value {
    json!({"message": "Unauthorized", "description": "Invalid, expired or missing bearer token", "code": "UNAUTHORIZED"})
}
fn unauthorized_002() -> serde_json::Value {
    json!({"message": "Unauthenticated."})
}
fn unauthorized_004() -> serde_json::Value {
    json!({"code": 401, "message": "invalid token", "data": {}})
}

// ---- seed 000: GET /api/v1/account/logout ----

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
        let res = app.client.get(app.url(path)).send().await.unwrap();
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
    let res = app
        .client
        .get(app.url("/api/v1/account/logout?token=so_at_nope"))
        .send()
        .await
        .unwrap();
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
        .client
        .get(app.url(&format!("/api/v1/account/me?token={token}")))
        .send()
        .await
        .unwrap();
    let user = body["data"]["user"].clone();
    expect_json(res, StatusCode::OK, json!({"data": {"user": user}})).await;
    let res = app
        .client
        .get(app.url("/api/v1/account/me"))
        .send()
        .await
        .unwrap();
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

// ---- seed 001: POST /auth/logout ----

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
    let res = app
        .client
        .post(app.url("/auth/logout"))
        .send()
        .await
        .unwrap();
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
    let res = app
        .client
        .get(app.url("/auth/logout"))
        .send()
        .await
        .unwrap();
    let headers = expect_json(
        res,
        StatusCode::METHOD_NOT_ALLOWED,
        json!({"message": "Method not allowed", "description": "This endpoint does not support that HTTP method", "code": "METHOD_NOT_ALLOWED"}),
    )
    .await;
    assert_eq!(headers[header::ALLOW], "POST");
    let res = app.client.post(app.url("/auth/nope")).send().await.unwrap();
    expect_json(
        res,
        StatusCode::NOT_FOUND,
        json!({"message": "Resource not found", "description": "The requested resource could not be found", "code": "NOT_FOUND"}),
    )
    .await;
}

// ---- seed 002: DELETE /api/v1/logout ----

#[tokio::test]
async fn seed_002_logout_is_204_with_an_empty_body_then_401() {
    let app = app_with_user().await;
    let token = app.opaque_token("ada@example.com").await;
    let res = app.logout_002(&token).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(res.bytes().await.unwrap().is_empty());
    assert!(!app.accepted(&token).await);
    let res = app.logout_002(&token).await;
    expect_json(res, StatusCode::UNAUTHORIZED, unauthorized_002()).await;
    let res = app
        .client
        .delete(app.url("/api/v1/logout"))
        .send()
        .await
        .unwrap();
    expect_json(res, StatusCode::UNAUTHORIZED, unauthorized_002()).await;
}

#[tokio::test]
async fn seed_002_wrong_method_405_unknown_path_404() {
    let app = app_with_user().await;
    let res = app
        .client
        .get(app.url("/api/v1/logout"))
        .send()
        .await
        .unwrap();
    let headers = expect_json(
        res,
        StatusCode::METHOD_NOT_ALLOWED,
        json!({"message": "Method not allowed."}),
    )
    .await;
    assert_eq!(headers[header::ALLOW], "DELETE");
    let res = app
        .client
        .get(app.url("/api/v1/nope"))
        .send()
        .await
        .unwrap();
    expect_json(res, StatusCode::NOT_FOUND, json!({"message": "Not Found."})).await;
}

// ---- seed 004: /api/auth/* ----

#[tokio::test]
async fn seed_004_login_refresh_and_logout() {
    let app = app_with_user().await;
    let res = app
        .login_004(&json!({"email": "ada@example.com", "password": crate::helpers::PASSWORD}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], 200);
    assert_eq!(body["message"], "login successful");
    assert_eq!(body["data"]["token_type"], "Bearer");
    assert_eq!(body["data"]["expires_in"], 900);
    let access = body["data"]["access_token"].as_str().unwrap().to_owned();
    let refresh = body["data"]["refresh_token"].as_str().unwrap().to_owned();
    assert!(app.accepted(&access).await);

    let res = app.refresh_004(&json!({"refresh_token": refresh})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["message"], "refresh successful");
    let access2 = body["data"]["access_token"].as_str().unwrap().to_owned();
    let refresh2 = body["data"]["refresh_token"].as_str().unwrap().to_owned();
    assert!(app.accepted(&access2).await);

    let res = app
        .logout_004(&access2, &json!({"refresh_token": refresh2}))
        .await;
    expect_json(
        res,
        StatusCode::OK,
        json!({"code": 200, "message": "logout successful", "data": {}}),
    )
    .await;
    assert!(!app.accepted(&access2).await);
    let res = app.refresh_004(&json!({"refresh_token": refresh2})).await;
    expect_json(res, StatusCode::UNAUTHORIZED, unauthorized_004()).await;
}

#[tokio::test]
async fn seed_004_reusing_a_rotated_refresh_token_ends_the_signin() {
    let app = app_with_user().await;
    let (_, refresh) = app.jwt_pair("ada@example.com").await;
    let res = app.refresh_004(&json!({"refresh_token": refresh})).await;
    let body: serde_json::Value = res.json().await.unwrap();
    let access2 = body["data"]["access_token"].as_str().unwrap().to_owned();
    // Past the grace window, presenting the rotated token again is reuse.
    app.age_rotations().await;
    let res = app.refresh_004(&json!({"refresh_token": refresh})).await;
    expect_json(res, StatusCode::UNAUTHORIZED, unauthorized_004()).await;
    assert!(!app.accepted(&access2).await, "the whole sign-in ended");
}

#[tokio::test]
async fn seed_004_a_missing_wrong_type_or_empty_refresh_token_is_400() {
    let app = app_with_user().await;
    let (access, _) = app.jwt_pair("ada@example.com").await;
    let cases = [
        (json!({}), json!(null)),
        // `value` is always null: no error repeats a submitted value (second round).
        (json!({"refresh_token": 42}), json!(null)),
        (json!({"refresh_token": ""}), json!(null)),
    ];
    for (body, value) in cases {
        let res = app.logout_004(&access, &body).await;
        expect_json(
            res,
            StatusCode::BAD_REQUEST,
            json!({"code": 400, "message": "validation failed", "data": {"type": "validation_error",
                "errors": [{"key": "refresh_token", "message": "required", "value": value}]}}),
        )
        .await;
    }
    assert!(app.accepted(&access).await, "nothing revoked");
}

#[tokio::test]
async fn seed_004_a_refresh_token_of_another_signin_is_401_and_revokes_nothing() {
    let app = app_with_user().await;
    let (access_a, refresh_a) = app.jwt_pair("ada@example.com").await;
    let (access_b, refresh_b) = app.jwt_pair("ada@example.com").await;
    let res = app
        .logout_004(&access_a, &json!({"refresh_token": refresh_b}))
        .await;
    expect_json(res, StatusCode::UNAUTHORIZED, unauthorized_004()).await;
    assert!(app.accepted(&access_a).await);
    assert!(app.accepted(&access_b).await);
    let _ = refresh_a;
}

#[tokio::test]
async fn seed_004_without_a_token_401_wrong_method_405_unknown_path_404() {
    let app = app_with_user().await;
    let (_, refresh) = app.jwt_pair("ada@example.com").await;
    let res = app
        .client
        .post(app.url("/api/auth/logout"))
        .json(&json!({"refresh_token": refresh}))
        .send()
        .await
        .unwrap();
    expect_json(res, StatusCode::UNAUTHORIZED, unauthorized_004()).await;
    let res = app
        .client
        .get(app.url("/api/auth/logout"))
        .send()
        .await
        .unwrap();
    let headers = expect_json(
        res,
        StatusCode::METHOD_NOT_ALLOWED,
        json!({"code": 405, "message": "method not allowed", "data": {}}),
    )
    .await;
    assert_eq!(headers[header::ALLOW], "POST");
    let res = app
        .client
        .post(app.url("/api/auth/nope"))
        .send()
        .await
        .unwrap();
    expect_json(
        res,
        StatusCode::NOT_FOUND,
        json!({"code": 404, "message": "not found", "data": {}}),
    )
    .await;
}

#[tokio::test]
async fn seed_004_wrong_credentials_are_401() {
    let app = app_with_user().await;
    let res = app
        .login_004(&json!({"email": "ada@example.com", "password": "wrong password"}))
        .await;
    expect_json(
        res,
        StatusCode::UNAUTHORIZED,
        json!({"code": 401, "message": "invalid credentials", "data": {}}),
    )
    .await;
}
