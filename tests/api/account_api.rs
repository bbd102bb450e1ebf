//! `POST /api/v1/account/register` and the account API's error envelope (seed 000).

use reqwest::{header, StatusCode};
use serde_json::{json, Value};

use crate::helpers::spawn_app;

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
