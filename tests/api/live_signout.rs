//! `GET /events`: an open page hears that its sign-in ended, with the reason, and the stream
//! closes; across instances on PostgreSQL too.

use std::time::Duration;

use reqwest::{header, StatusCode};
use serde_json::json;

use crate::helpers::{require_postgres, spawn_app, start, TestApp};

/// An open `/events` stream.
struct Stream(reqwest::Response);

impl Stream {
    async fn open(app: &TestApp, cookie: &str) -> Self {
        let res = app
            .client
            .get(app.url("/events"))
            .header(header::COOKIE, cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"));
        assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
        Self(res)
    }

    /// Everything the server sends until it closes the stream (at most `within`).
    async fn until_closed(mut self, within: Duration) -> String {
        let mut text = String::new();
        let read = async {
            while let Some(chunk) = self.0.chunk().await.unwrap() {
                text.push_str(&String::from_utf8_lossy(&chunk));
            }
        };
        tokio::time::timeout(within, read)
            .await
            .expect("the server closes the stream");
        text
    }
}

fn signed_out(reason: &str) -> String {
    format!(
        "event: signed-out\ndata: {}\n\n",
        json!({ "reason": reason })
    )
}

async fn logout_001(app: &TestApp, token: &str, scope: &str) {
    let res = app.logout_001(token, Some(json!({ "scope": scope }))).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_logout_everywhere_from_an_api_signs_the_open_page_out_with_the_reason() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let cookie = app.browser_login("ada@example.com").await;
    let stream = Stream::open(&app, &cookie).await;
    let token = app.opaque_token("ada@example.com").await;
    let reader = tokio::spawn(stream.until_closed(Duration::from_secs(10)));
    // The stream is registered before the response head is sent; give the task a moment anyway.
    tokio::time::sleep(Duration::from_millis(50)).await;
    logout_001(&app, &token, "global").await;
    let text = reader.await.unwrap();
    assert!(text.contains(&signed_out("logout_global")), "{text:?}");
    assert_eq!(
        app.state.auth.revocations().watched(),
        0,
        "the stream stopped watching"
    );
}

#[tokio::test]
async fn each_kind_of_ending_tells_its_own_reason() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    // Another device ends the others.
    let cookie = app.browser_login("ada@example.com").await;
    let stream = Stream::open(&app, &cookie).await;
    let token = app.opaque_token("ada@example.com").await;
    let reader = tokio::spawn(stream.until_closed(Duration::from_secs(10)));
    logout_001(&app, &token, "others").await;
    assert!(reader.await.unwrap().contains(&signed_out("logout_others")));
    // This browser's own Log out button.
    let cookie = app.browser_login("ada@example.com").await;
    let stream = Stream::open(&app, &cookie).await;
    let reader = tokio::spawn(stream.until_closed(Duration::from_secs(10)));
    let res = app.form("logout", Some(&cookie), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(reader.await.unwrap().contains(&signed_out("logout")));
}

#[tokio::test]
async fn a_page_that_connects_after_its_sign_in_ended_hears_it_at_once() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let cookie = app.browser_login("ada@example.com").await;
    let token = app.opaque_token("ada@example.com").await;
    logout_001(&app, &token, "global").await;
    let text = Stream::open(&app, &cookie)
        .await
        .until_closed(Duration::from_secs(5))
        .await;
    assert_eq!(text, signed_out("logout_global"));
}

#[tokio::test]
async fn without_a_session_there_is_no_stream() {
    let app = spawn_app().await;
    let res = app.get("/events", None).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn streams_per_sign_in_are_bounded() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let cookie = app.browser_login("ada@example.com").await;
    let mut open = Vec::new();
    for _ in 0..signoff::server::domain::revocations::MAX_WATCHERS_PER_SIGNIN {
        open.push(Stream::open(&app, &cookie).await);
    }
    let res = app.get("/events", Some(&cookie)).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    drop(open);
}

#[tokio::test]
async fn a_logout_on_one_instance_signs_out_a_page_open_on_another() {
    let Some(db) =
        require_postgres("a_logout_on_one_instance_signs_out_a_page_open_on_another").await
    else {
        return;
    };
    let a = start(&db.url).await;
    let b = start(&db.url).await;
    for app in [&a, &b] {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !app.state.auth.revocations().is_healthy() {
            assert!(tokio::time::Instant::now() < deadline, "listener up");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    a.create_user("ada@example.com").await;
    let cookie = a.browser_login("ada@example.com").await;
    let stream = Stream::open(&a, &cookie).await;
    let reader = tokio::spawn(stream.until_closed(Duration::from_secs(10)));
    let token = b.opaque_token("ada@example.com").await;
    logout_001(&b, &token, "global").await;
    let text = reader.await.unwrap();
    assert!(text.contains(&signed_out("logout_global")), "{text:?}");
}
