//! `GET /healthz` (the process is up) and `GET /readyz` (the database answers, the denylist is
//! complete).

use reqwest::{header, StatusCode};
use serde_json::{json, Value};

use crate::helpers::spawn_app;

#[tokio::test]
async fn healthz_answers_without_touching_the_database() {
    let app = spawn_app().await;
    app.cut_database().await;
    let res = app.get("/healthz", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"status": "ok"}));
}

#[tokio::test]
async fn readyz_is_ready_with_a_database_and_503_without_one() {
    let app = spawn_app().await;
    let mut ready = None;
    // The denylist is loaded in the background at start-up: readiness may take a moment.
    for _ in 0..50 {
        let res = app.get("/readyz", None).await;
        if res.status() == StatusCode::OK {
            ready = Some(res.json::<Value>().await.unwrap());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        ready,
        Some(json!({"status": "ready", "database": true, "denylist": true}))
    );

    app.cut_database().await;
    let res = app.get("/readyz", None).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers()[header::RETRY_AFTER], "5");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["database"], false);
}
