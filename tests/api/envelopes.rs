//! Every dialect's envelope, table-driven: the same kinds of failure (an unknown path under its
//! prefix, a wrong method, a missing credential, a body that is no JSON object) sent to each
//! dialect, each answer checked for its status, its exact body and its named headers.

use reqwest::{header, Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{expect_json, spawn_app};

/// One row: what is sent, and what must come back.
struct Row {
    method: Method,
    path: &'static str,
    body: Option<&'static str>,
    status: StatusCode,
    expected: Value,
    /// A header the answer must carry, with its exact value.
    header: Option<(&'static str, &'static str)>,
}

fn row(method: Method, path: &'static str, status: StatusCode, expected: Value) -> Row {
    Row {
        method,
        path,
        body: None,
        status,
        expected,
        header: None,
    }
}

fn table() -> Vec<Row> {
    let challenge = Some(("www-authenticate", "Bearer error=\"invalid_token\""));
    vec![
        // Seed 000: `{"error":{"message","code"}}`.
        row(
            Method::GET,
            "/api/v1/account/nope",
            StatusCode::NOT_FOUND,
            json!({"error": {"message": "The request URL is invalid.", "code": 404}}),
        ),
        Row {
            header: Some(("allow", "GET")),
            ..row(
                Method::POST,
                "/api/v1/account/logout",
                StatusCode::METHOD_NOT_ALLOWED,
                json!({"error": {"message": "Method not allowed.", "code": 405}}),
            )
        },
        row(
            Method::GET,
            "/api/v1/account/logout",
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"error": {"message": "Failed validation.", "code": 422}}),
        ),
        Row {
            header: challenge,
            ..row(
                Method::GET,
                "/api/v1/account/me",
                StatusCode::UNAUTHORIZED,
                json!({"error": {"message": "Token invalid.", "code": 401}}),
            )
        },
        Row {
            body: Some("[1]"),
            ..row(
                Method::POST,
                "/api/v1/account/login",
                StatusCode::BAD_REQUEST,
                json!({"error": {"message": "Invalid parameter value in the request.", "code": 400}}),
            )
        },
        // Seed 001: `{"message","description","code"}`.
        row(
            Method::POST,
            "/auth/nope",
            StatusCode::NOT_FOUND,
            json!({"message": "Resource not found", "description": "The requested resource could not be found", "code": "NOT_FOUND"}),
        ),
        Row {
            header: Some(("allow", "POST")),
            ..row(
                Method::GET,
                "/auth/logout",
                StatusCode::METHOD_NOT_ALLOWED,
                json!({"message": "Method not allowed", "description": "This endpoint does not support that HTTP method", "code": "METHOD_NOT_ALLOWED"}),
            )
        },
        Row {
            header: challenge,
            ..row(
                Method::POST,
                "/auth/logout",
                StatusCode::UNAUTHORIZED,
                json!({"message": "Unauthorized", "description": "Invalid, expired or missing bearer token", "code": "UNAUTHORIZED"}),
            )
        },
        // Seed 002: `{"message"}`.
        row(
            Method::GET,
            "/api/v1/nope",
            StatusCode::NOT_FOUND,
            json!({"message": "Not Found."}),
        ),
        Row {
            header: Some(("allow", "DELETE")),
            ..row(
                Method::GET,
                "/api/v1/logout",
                StatusCode::METHOD_NOT_ALLOWED,
                json!({"message": "Method not allowed."}),
            )
        },
        Row {
            header: challenge,
            ..row(
                Method::DELETE,
                "/api/v1/logout",
                StatusCode::UNAUTHORIZED,
                json!({"message": "Unauthenticated."}),
            )
        },
        // Seed 004: `{"code","message","data"}`.
        row(
            Method::POST,
            "/api/auth/nope",
            StatusCode::NOT_FOUND,
            json!({"code": 404, "message": "not found", "data": {}}),
        ),
        Row {
            header: Some(("allow", "POST")),
            ..row(
                Method::GET,
                "/api/auth/refresh",
                StatusCode::METHOD_NOT_ALLOWED,
                json!({"code": 405, "message": "method not allowed", "data": {}}),
            )
        },
        Row {
            header: challenge,
            body: Some(r#"{"refresh_token":"a.b.c"}"#),
            ..row(
                Method::POST,
                "/api/auth/logout",
                StatusCode::UNAUTHORIZED,
                json!({"code": 401, "message": "invalid token", "data": {}}),
            )
        },
        Row {
            body: Some("[1]"),
            ..row(
                Method::POST,
                "/api/auth/refresh",
                StatusCode::BAD_REQUEST,
                json!({"code": 400, "message": "validation failed", "data": {"type": "validation_error",
                "errors": [{"key": "body", "message": "must be a JSON object", "value": null}]}}),
            )
        },
        // RFC 7009: `{"error"}`.
        row(
            Method::POST,
            "/oauth/nope",
            StatusCode::NOT_FOUND,
            json!({"error": "invalid_request"}),
        ),
        Row {
            header: Some(("allow", "POST")),
            ..row(
                Method::GET,
                "/oauth/revoke",
                StatusCode::METHOD_NOT_ALLOWED,
                json!({"error": "invalid_request"}),
            )
        },
    ]
}

#[tokio::test]
async fn each_dialect_answers_each_kind_of_failure_in_its_own_envelope() {
    let app = spawn_app().await;
    for row in table() {
        let mut req = app.client.request(row.method.clone(), app.url(row.path));
        if let Some(body) = row.body {
            req = req
                .header(header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let res = req.send().await.unwrap();
        let what = format!("{} {}", row.method, row.path);
        if let Some((name, value)) = row.header {
            let got = res
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned());
            assert_eq!(got.as_deref(), Some(value), "{what}: {name}");
        }
        assert_eq!(res.status(), row.status, "{what}");
        expect_json(res, row.status, row.expected).await;
    }
}
