//! Seed 002: `DELETE /api/v1/logout`, row by row of `API.md`: status, exact body and named headers.

use reqwest::{header, Method, StatusCode};
use serde_json::json;

use crate::helpers::{app_with_user, expect_json, unauthorized_002};

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
    let res = app.bare(Method::DELETE, "/api/v1/logout").await;
    expect_json(res, StatusCode::UNAUTHORIZED, unauthorized_002()).await;
}

#[tokio::test]
async fn seed_002_wrong_method_405_unknown_path_404() {
    let app = app_with_user().await;
    let res = app.get("/api/v1/logout", None).await;
    let headers = expect_json(
        res,
        StatusCode::METHOD_NOT_ALLOWED,
        json!({"message": "Method not allowed."}),
    )
    .await;
    assert_eq!(headers[header::ALLOW], "DELETE");
    let res = app.get("/api/v1/nope", None).await;
    expect_json(res, StatusCode::NOT_FOUND, json!({"message": "Not Found."})).await;
}
