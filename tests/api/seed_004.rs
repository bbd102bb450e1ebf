//! Seed 004: `/api/auth/*` (JWT login, refresh, logout), row by row of `API.md`: status, exact body
//! and named headers.

use reqwest::{header, Method, StatusCode};
use serde_json::json;

use crate::helpers::{app_with_user, expect_json, unauthorized_004};

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
    let res = app.get("/api/auth/logout", None).await;
    let headers = expect_json(
        res,
        StatusCode::METHOD_NOT_ALLOWED,
        json!({"code": 405, "message": "method not allowed", "data": {}}),
    )
    .await;
    assert_eq!(headers[header::ALLOW], "POST");
    let res = app.bare(Method::POST, "/api/auth/nope").await;
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
