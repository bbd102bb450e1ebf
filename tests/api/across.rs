//! Across dialects: one credential system, scopes, races, bad input, failures.

use reqwest::{header, StatusCode};
use serde_json::json;

use crate::helpers::{expect_json, race, spawn_app, successes, TestApp};

/// Tries a logout in every dialect with `token`; returns the statuses.
async fn statuses_everywhere(app: &TestApp, token: &str) -> Vec<StatusCode> {
    vec![
        app.logout_000(token).await.status(),
        app.logout_001(token, None).await.status(),
        app.logout_002(token).await.status(),
        app.logout_004(token, &json!({"refresh_token": "x.y.z"}))
            .await
            .status(),
        app.me_000(token).await.status(),
    ]
}

#[tokio::test]
async fn an_opaque_token_logged_out_in_one_dialect_is_refused_by_all() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let token = app.opaque_token("ada@example.com").await;
    let res = app.logout_002(&token).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        statuses_everywhere(&app, &token).await,
        vec![StatusCode::UNAUTHORIZED; 5]
    );
}

#[tokio::test]
async fn a_jwt_logged_out_through_seed_000_is_refused_by_all() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let (access, refresh) = app.jwt_pair("ada@example.com").await;
    let res = app.logout_000(&access).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        statuses_everywhere(&app, &access).await,
        vec![StatusCode::UNAUTHORIZED; 5]
    );
    let res = app.refresh_004(&json!({"refresh_token": refresh})).await;
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "the refresh token died with its sign-in"
    );
}

#[tokio::test]
async fn scope_others_keeps_the_caller_and_ends_the_rest_of_that_user_only() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    app.create_user("bob@example.com").await;
    let caller = app.opaque_token("ada@example.com").await;
    let (jwt, _) = app.jwt_pair("ada@example.com").await;
    let cookie = app.browser_login("ada@example.com").await;
    let bob = app.opaque_token("bob@example.com").await;
    let res = app
        .logout_001(&caller, Some(json!({"scope": "others"})))
        .await;
    expect_json(
        res,
        StatusCode::OK,
        json!({"message": "Logged out successfully"}),
    )
    .await;
    assert!(app.accepted(&caller).await);
    assert!(!app.accepted(&jwt).await);
    assert_eq!(
        crate::helpers::location(&app.get("/", Some(&cookie)).await),
        "/login?ended=logout_others"
    );
    assert!(app.accepted(&bob).await);
}

#[tokio::test]
async fn scope_global_ends_every_signin_of_the_user_and_nobody_elses() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    app.create_user("bob@example.com").await;
    let caller = app.opaque_token("ada@example.com").await;
    let (jwt, refresh) = app.jwt_pair("ada@example.com").await;
    let cookie = app.browser_login("ada@example.com").await;
    let bob = app.opaque_token("bob@example.com").await;
    let bob_cookie = app.browser_login("bob@example.com").await;
    let res = app
        .logout_001(&caller, Some(json!({"scope": "global"})))
        .await;
    expect_json(
        res,
        StatusCode::OK,
        json!({"message": "Logged out successfully"}),
    )
    .await;
    assert!(!app.accepted(&caller).await);
    assert!(!app.accepted(&jwt).await);
    let res = app.refresh_004(&json!({"refresh_token": refresh})).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        crate::helpers::location(&app.get("/", Some(&cookie)).await),
        "/login?ended=logout_global"
    );
    assert!(app.accepted(&bob).await);
    assert_eq!(
        app.get("/", Some(&bob_cookie)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn sixteen_simultaneous_logouts_with_one_token_exactly_one_succeeds() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    for dialect in 0..3 {
        let token = app.opaque_token("ada@example.com").await;
        let statuses = race((0..16).map(|_| app.opaque_logout(dialect, &token))).await;
        assert_eq!(
            successes(&statuses, StatusCode::UNAUTHORIZED),
            1,
            "dialect {dialect}"
        );
    }
}

#[tokio::test]
async fn odd_authorization_headers_are_401_in_every_dialect_and_revoke_nothing() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let token = app.opaque_token("ada@example.com").await;
    let long = format!("Bearer {}", "a".repeat(10 * 1024));
    let odd: Vec<Vec<u8>> = vec![
        token.clone().into_bytes(),                   // no scheme
        b"".to_vec(),                                 // empty
        b"Bearer".to_vec(),                           // scheme only
        format!("Basic {token}").into_bytes(),        // another scheme
        long.into_bytes(),                            // 10 KB
        "Bearer tökén".as_bytes().to_vec(),           // non-ASCII
        format!("Bearer {token} extra").into_bytes(), // trailing junk
    ];
    for value in &odd {
        let h = header::HeaderValue::from_bytes(value).unwrap();
        let reqs = [
            app.client.get(app.url("/api/v1/account/logout")),
            app.client.post(app.url("/auth/logout")),
            app.client.delete(app.url("/api/v1/logout")),
            app.client
                .post(app.url("/api/auth/logout"))
                .json(&json!({"refresh_token": "a.b.c"})),
        ];
        for req in reqs {
            let res = req
                .header(header::AUTHORIZATION, h.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(
                res.status(),
                StatusCode::UNAUTHORIZED,
                "{:?}",
                String::from_utf8_lossy(&value[..value.len().min(40)])
            );
            assert_eq!(
                res.headers()[header::WWW_AUTHENTICATE],
                "Bearer error=\"invalid_token\""
            );
        }
    }
    assert!(app.accepted(&token).await, "nothing was revoked");
}

#[tokio::test]
async fn huge_bodies_are_413_in_each_dialect_and_revoke_nothing() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let token = app.opaque_token("ada@example.com").await;
    let (access, _) = app.jwt_pair("ada@example.com").await;
    let huge = json!({"scope": "global", "pad": "x".repeat(17 * 1024)});
    let res = app.logout_001(&token, Some(huge.clone())).await;
    expect_json(
        res,
        StatusCode::PAYLOAD_TOO_LARGE,
        json!({"message": "Payload too large", "description": "The request body is over 16 KiB", "code": "PAYLOAD_TOO_LARGE"}),
    )
    .await;
    let res = app.logout_004(&access, &huge).await;
    expect_json(
        res,
        StatusCode::PAYLOAD_TOO_LARGE,
        json!({"code": 413, "message": "request body too large", "data": {}}),
    )
    .await;
    let res = app
        .client
        .delete(app.url("/api/v1/logout"))
        .bearer_auth(&token)
        .json(&huge)
        .send()
        .await
        .unwrap();
    expect_json(
        res,
        StatusCode::PAYLOAD_TOO_LARGE,
        json!({"message": "Payload too large."}),
    )
    .await;
    assert!(app.accepted(&token).await);
    assert!(app.accepted(&access).await);
}

/// A body sent in chunks declares no length, so only reading it can tell that it is too long: the
/// reading stops at 16 KiB, with each dialect's 413.
#[tokio::test]
async fn a_chunked_body_over_the_limit_is_413_in_the_dialects_envelope() {
    let app = spawn_app().await;
    let json = [("Content-Type", "application/json")];
    let chunked = |path: &'static str, body: String| {
        let app = &app;
        async move { app.post_chunked(path, &json, &body).await }
    };
    let huge = json!({"email": "ada@example.com", "password": "x".repeat(17 * 1024)}).to_string();
    let answer = chunked("/api/v1/account/login", huge.clone()).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.ends_with(r#"{"error":{"code":413,"message":"The request body is too large."}}"#),
        "{answer}"
    );
    // Under the limit, the same way of sending is read whole (and the password checked).
    let small = json!({"email": "ada@example.com", "password": "correct horse"}).to_string();
    let answer = chunked("/api/v1/account/login", small).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    // The logouts that check a credential first check the size: without any credential, an
    // oversized chunked body is 413 all the same, in each dialect's envelope.
    for (path, body) in [
        ("/auth/logout", "PAYLOAD_TOO_LARGE"),
        ("/api/auth/logout", "request body too large"),
    ] {
        let answer = chunked(path, huge.clone()).await;
        assert!(answer.starts_with("HTTP/1.1 413"), "{path}: {answer}");
        assert!(answer.contains(body), "{path}: {answer}");
    }
}

#[tokio::test]
async fn malformed_json_and_wrong_types_get_each_dialects_error() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let (access, _) = app.jwt_pair("ada@example.com").await;
    let res = app
        .client
        .post(app.url("/api/auth/logout"))
        .bearer_auth(&access)
        .body("{\"refresh_token\":")
        .send()
        .await
        .unwrap();
    expect_json(
        res,
        StatusCode::BAD_REQUEST,
        json!({"code": 400, "message": "validation failed", "data": {"type": "validation_error",
            "errors": [{"key": "body", "message": "must be a JSON object", "value": null}]}}),
    )
    .await;
    let res = app
        .login_004(&json!({"email": ["a"], "password": "x"}))
        .await;
    expect_json(
        res,
        StatusCode::BAD_REQUEST,
        json!({"code": 400, "message": "validation failed", "data": {"type": "validation_error",
            // `value` is null whatever was sent: no error repeats a submitted value.
            "errors": [{"key": "email", "message": "required", "value": null}]}}),
    )
    .await;
    assert!(app.accepted(&access).await);
}

#[tokio::test]
async fn an_unreachable_database_is_503_with_retry_after_in_each_envelope() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let token = app.opaque_token("ada@example.com").await;
    app.cut_database().await;
    let res = app.logout_000(&token).await;
    expect_json(
        res,
        StatusCode::SERVICE_UNAVAILABLE,
        json!({"error": {"message": "The service is temporarily unavailable.", "code": 503}}),
    )
    .await;
    let res = app.logout_001(&token, None).await;
    expect_json(
        res,
        StatusCode::SERVICE_UNAVAILABLE,
        json!({"message": "Service unavailable", "description": "The service is temporarily unavailable; retry later", "code": "SERVICE_UNAVAILABLE"}),
    )
    .await;
    let res = app.logout_002(&token).await;
    expect_json(
        res,
        StatusCode::SERVICE_UNAVAILABLE,
        json!({"message": "Service Unavailable."}),
    )
    .await;
    let res = app.logout_004(&token, &json!({"refresh_token": "a"})).await;
    expect_json(
        res,
        StatusCode::SERVICE_UNAVAILABLE,
        json!({"code": 503, "message": "service unavailable", "data": {}}),
    )
    .await;
}

#[tokio::test]
async fn an_unexpected_failure_is_500_without_details() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let token = app.opaque_token("ada@example.com").await;
    let (access, _) = app.jwt_pair("ada@example.com").await;
    // Break the schema under the running server: checking an opaque token now fails unexpectedly.
    app.sql("DROP TABLE tokens").await;
    let res = app.logout_001(&token, None).await;
    let body = json!({"message": "Internal server error", "description": "An unexpected error occurred", "code": "INTERNAL_ERROR"});
    expect_json(res, StatusCode::INTERNAL_SERVER_ERROR, body).await;
    let res = app.logout_002(&token).await;
    expect_json(
        res,
        StatusCode::INTERNAL_SERVER_ERROR,
        json!({"message": "Server Error."}),
    )
    .await;
    let res = app.logout_000(&token).await;
    let body = json!({"error": {"message": "Internal error.", "code": 500}});
    expect_json(res, StatusCode::INTERNAL_SERVER_ERROR, body).await;
    let res = app
        .logout_004(&token, &json!({"refresh_token": "a.b.c"}))
        .await;
    expect_json(
        res,
        StatusCode::INTERNAL_SERVER_ERROR,
        json!({"code": 500, "message": "internal server error", "data": {}}),
    )
    .await;
    assert!(
        app.accepted(&access).await,
        "JWT checks do not touch the broken table"
    );
}
