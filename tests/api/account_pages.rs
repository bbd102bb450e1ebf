//! `/sessions`, `/account/password` and the audit trail, through the pages' server functions.

use reqwest::{header, StatusCode};
use serde_json::json;

use crate::helpers::{location, spawn_app, TestApp, PASSWORD};

async fn signin_ids(app: &TestApp) -> Vec<String> {
    signoff::with_pool!(app.state.auth.db(), p => sqlx::query_scalar(
            "SELECT id FROM signins WHERE ended_at IS NULL ORDER BY created_at, id",
        )
        .fetch_all(p)
        .await
        .unwrap())
}

#[tokio::test]
async fn the_sessions_page_lists_every_signin_and_marks_this_device() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let _token = app.opaque_token("ada@example.com").await;
    let cookie = app.browser_login("ada@example.com").await;
    let res = app
        .client
        .get(app.url("/sessions"))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    let html = res.text().await.unwrap();
    assert!(html.contains("This device"));
    assert!(html.contains("API token"));
    assert!(html.contains("Browser session"));
    assert!(html.contains("Recent activity"));
    assert_eq!(location(&app.get("/sessions", None).await), "/login");
}

#[tokio::test]
async fn ending_another_session_from_the_page_keeps_this_one() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let token = app.opaque_token("ada@example.com").await;
    let cookie = app.browser_login("ada@example.com").await;
    let ids = signin_ids(&app).await;
    let res = app
        .form("end_session", Some(&cookie), &[("id", &ids[0])])
        .await;
    assert_eq!(location(&res), "/sessions?ended=1");
    assert!(!app.accepted(&token).await);
    assert_eq!(app.get("/", Some(&cookie)).await.status(), StatusCode::OK);
    // Again: it has already ended.
    let res = app
        .form("end_session", Some(&cookie), &[("id", &ids[0])])
        .await;
    assert_eq!(location(&res), "/sessions?error=gone");
    // Another user's sign-in is not found, and stays.
    app.create_user("bob@example.com").await;
    let bob = app.opaque_token("bob@example.com").await;
    let bobs = signin_ids(&app).await.into_iter().last().unwrap();
    let res = app
        .form("end_session", Some(&cookie), &[("id", &bobs)])
        .await;
    assert_eq!(location(&res), "/sessions?error=gone");
    assert!(app.accepted(&bob).await);
}

#[tokio::test]
async fn ending_this_devices_session_from_the_page_is_a_full_logout() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let cookie = app.browser_login("ada@example.com").await;
    let mine = signin_ids(&app).await.pop().unwrap();
    let res = app
        .form("end_session", Some(&cookie), &[("id", &mine)])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/login?logged_out=1");
    assert!(res.headers().contains_key("clear-site-data"));
    assert_eq!(location(&app.get("/", Some(&cookie)).await), "/login");
}

#[tokio::test]
async fn log_out_of_all_other_sessions_and_log_out_everywhere() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    app.create_user("bob@example.com").await;
    let token = app.opaque_token("ada@example.com").await;
    let (jwt, _) = app.jwt_pair("ada@example.com").await;
    let other_browser = app.browser_login("ada@example.com").await;
    let cookie = app.browser_login("ada@example.com").await;
    let bob = app.opaque_token("bob@example.com").await;

    let res = app.form("logout_others", Some(&cookie), &[]).await;
    assert_eq!(location(&res), "/sessions?ended=others");
    assert!(!app.accepted(&token).await);
    assert!(!app.accepted(&jwt).await);
    assert_eq!(
        location(&app.get("/", Some(&other_browser)).await),
        "/login?ended=logout_others"
    );
    assert_eq!(app.get("/", Some(&cookie)).await.status(), StatusCode::OK);

    let token2 = app.opaque_token("ada@example.com").await;
    let res = app.form("logout_everywhere", Some(&cookie), &[]).await;
    assert_eq!(location(&res), "/login?logged_out=1");
    assert!(res.headers().contains_key("clear-site-data"));
    assert!(!app.accepted(&token2).await);
    assert_eq!(location(&app.get("/", Some(&cookie)).await), "/login");
    assert!(app.accepted(&bob).await, "nobody else's");
}

#[tokio::test]
async fn a_password_change_ends_the_others_and_keeps_the_current_one() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let token = app.opaque_token("ada@example.com").await;
    let other_browser = app.browser_login("ada@example.com").await;
    let cookie = app.browser_login("ada@example.com").await;

    let res = app
        .form(
            "change_password",
            Some(&cookie),
            &[
                ("current_password", "not it at all"),
                ("new_password", "a new password"),
                ("sign_out_others", "on"),
            ],
        )
        .await;
    assert_eq!(location(&res), "/account/password?error=current_password");
    assert!(app.accepted(&token).await, "a failed change ends nothing");

    let res = app
        .form(
            "change_password",
            Some(&cookie),
            &[
                ("current_password", PASSWORD),
                ("new_password", "a new password"),
                ("sign_out_others", "on"),
            ],
        )
        .await;
    assert_eq!(location(&res), "/account/password?changed=2");
    assert!(!app.accepted(&token).await);
    assert_eq!(
        location(&app.get("/", Some(&other_browser)).await),
        "/login?ended=password_changed"
    );
    assert_eq!(app.get("/", Some(&cookie)).await.status(), StatusCode::OK);
    let res = app
        .login_form("ada@example.com", "a new password", None)
        .await;
    assert_eq!(location(&res), "/");

    // Unchecked: the others stay.
    let token = app
        .opaque_token_with("ada@example.com", "a new password")
        .await;
    let res = app
        .form(
            "change_password",
            Some(&cookie),
            &[
                ("current_password", "a new password"),
                ("new_password", "third password"),
            ],
        )
        .await;
    assert_eq!(location(&res), "/account/password?changed=0");
    assert!(app.accepted(&token).await);
}

#[tokio::test]
async fn every_event_leaves_an_audit_row_and_none_holds_a_secret() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let opaque = app.opaque_token("ada@example.com").await;
    let (access, refresh) = app.jwt_pair("ada@example.com").await;
    let cookie = app.browser_login("ada@example.com").await;
    let session_value = cookie.split_once('=').unwrap().1.to_owned();
    // A personal token, created then revoked.
    app.form("create_token", Some(&cookie), &[("name", "CI")])
        .await;
    let html = app
        .get("/tokens", Some(&cookie))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("so_pat_"), "the new token is shown once");
    let user_id = app.sql_text("SELECT id FROM users").await;
    let personal = app.state.auth.personal_tokens(&user_id).await.unwrap();
    let res = app
        .form("revoke_token", Some(&cookie), &[("id", &personal[0].id)])
        .await;
    assert_eq!(location(&res), "/tokens?revoked=1");
    // Refresh, then reuse of the rotated refresh token.
    let res = app.refresh_004(&json!({"refresh_token": refresh})).await;
    assert_eq!(res.status(), StatusCode::OK);
    // Past the grace window, presenting the rotated token again is reuse.
    app.age_rotations().await;
    app.refresh_004(&json!({"refresh_token": refresh})).await;
    // Logouts in two dialects and scopes, a password change.
    app.logout_000(&opaque).await;
    let res = app
        .form(
            "change_password",
            Some(&cookie),
            &[
                ("current_password", PASSWORD),
                ("new_password", "a new password"),
                ("sign_out_others", "on"),
            ],
        )
        .await;
    assert!(location(&res).starts_with("/account/password?changed="));
    let opaque2 = app
        .opaque_token_with("ada@example.com", "a new password")
        .await;
    let res = app
        .logout_001(&opaque2, Some(json!({"scope": "others"})))
        .await;
    assert_eq!(res.status(), StatusCode::OK);

    let rows: Vec<(String, String)> = signoff::with_pool!(app.state.auth.db(), p => sqlx::query_as(
            "SELECT event, detail || ' ' || COALESCE(signin_id, '') FROM audit_events",
        )
        .fetch_all(p)
        .await
        .unwrap());
    let events: std::collections::BTreeSet<&str> = rows.iter().map(|(e, _)| e.as_str()).collect();
    for expected in [
        "sign_in",
        "logout",
        "token_created",
        "token_revoked",
        "refresh_token_reuse",
        "password_changed",
    ] {
        assert!(events.contains(expected), "{expected} in {events:?}");
    }
    let details: Vec<&str> = rows.iter().map(|(_, d)| d.as_str()).collect();
    assert!(
        details.iter().any(|d| d.contains("via seed 000")),
        "{details:?}"
    );
    assert!(
        details
            .iter()
            .any(|d| d.contains("all other sign-ins") && d.contains("via seed 001")),
        "{details:?}"
    );
    for (event, detail) in &rows {
        for secret in [
            opaque.as_str(),
            opaque2.as_str(),
            access.as_str(),
            refresh.as_str(),
            session_value.as_str(),
            PASSWORD,
            "a new password",
        ] {
            assert!(
                !detail.contains(secret) && !event.contains(secret),
                "a secret in the audit trail"
            );
        }
    }
    let _ = access;
}
