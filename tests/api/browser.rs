//! The browser flow through the server functions, as a browser without JavaScript sends it.

use reqwest::{header, StatusCode};

use crate::helpers::{location, session_cookie, set_cookies, spawn_app, start, PASSWORD};

#[tokio::test]
async fn register_form_creates_the_account_and_sends_to_login() {
    let app = spawn_app().await;
    let res = app.register_form("ada@example.com", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/login?registered=1");
    app.browser_login("ada@example.com").await;

    let res = app.register_form("ada@example.com", PASSWORD).await;
    assert_eq!(location(&res), "/register?error=email_taken");
    let res = app.register_form("bob@example.com", "short").await;
    assert_eq!(location(&res), "/register?error=password_short");
}

#[tokio::test]
async fn login_sets_an_httponly_samesite_cookie_and_home_shows_the_email_uncached() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let res = app.login_form(" ADA@example.com", PASSWORD, None).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/");
    let set = set_cookies(&res).join("\n");
    assert!(set.contains("HttpOnly"), "{set}");
    assert!(set.contains("SameSite=Lax"), "{set}");
    assert!(set.contains("Path=/"), "{set}");
    assert!(!set.contains("Secure"), "plain http in tests: {set}");
    let cookie = session_cookie(&res).unwrap();

    let home = app.get("/", Some(&cookie)).await;
    assert_eq!(home.status(), StatusCode::OK);
    assert_eq!(home.headers()[header::CACHE_CONTROL], "no-store");
    let html = home.text().await.unwrap();
    assert!(
        html.contains("ada@example.com"),
        "the home page shows the email"
    );
    assert!(html.contains("Log out"));
}

#[tokio::test]
async fn signed_out_home_redirects_to_login() {
    let app = spawn_app().await;
    let res = app.get("/", None).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/login");
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    let res = app
        .get("/", Some("signoff_session=forged-or-expired"))
        .await;
    assert_eq!(location(&res), "/login");
}

#[tokio::test]
async fn logout_ends_the_session_and_replaying_its_cookie_is_signed_out() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let cookie = app.browser_login("ada@example.com").await;

    let res = app.form("logout", Some(&cookie), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/login?logged_out=1");
    assert_eq!(res.headers()["clear-site-data"], "\"cache\", \"storage\"");
    let removal = set_cookies(&res);
    assert!(
        removal.iter().any(|c| c.starts_with("signoff_session=;")
            && c.contains("Max-Age=0")
            && c.contains("HttpOnly")
            && c.contains("SameSite=Lax")
            && c.contains("Path=/")),
        "{removal:?}"
    );

    let replay = app.get("/", Some(&cookie)).await;
    assert_eq!(replay.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&replay), "/login");

    // The sign-in is ended in the database, and the session is gone from the store.
    let ended = app
        .sql_count(
            "SELECT COUNT(*) FROM signins WHERE ended_at IS NOT NULL AND end_reason = 'logout'",
        )
        .await;
    assert_eq!(ended, 1);
    let sessions = format!("SELECT COUNT(*) FROM {}", app.sessions_table());
    assert_eq!(app.sql_count(&sessions).await, 0);
}

#[tokio::test]
async fn logout_twice_lands_on_login_both_times() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let cookie = app.browser_login("ada@example.com").await;
    for _ in 0..2 {
        let res = app.form("logout", Some(&cookie), &[]).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&res), "/login?logged_out=1");
    }
    // And with no cookie at all.
    let res = app.form("logout", None, &[]).await;
    assert_eq!(location(&res), "/login?logged_out=1");
}

#[tokio::test]
async fn a_second_tab_is_signed_out_at_its_next_request() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let cookie = app.browser_login("ada@example.com").await;
    // Two tabs share the cookie; the first logs out.
    assert_eq!(app.get("/", Some(&cookie)).await.status(), StatusCode::OK);
    app.form("logout", Some(&cookie), &[]).await;
    let whoami = app
        .client
        .post(format!("{}/_fn/whoami", app.address))
        .header(header::COOKIE, &cookie)
        .header(header::ACCEPT, "application/json")
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(whoami.status(), StatusCode::OK);
    assert_eq!(whoami.headers()[header::CACHE_CONTROL], "no-store");
    assert_eq!(whoami.text().await.unwrap(), "null");
    assert_eq!(location(&app.get("/", Some(&cookie)).await), "/login");
}

#[tokio::test]
async fn a_cross_site_post_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let cookie = app.browser_login("ada@example.com").await;
    let attempts = [
        vec![
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://evil.example"),
        ],
        vec![("origin", "https://evil.example")],
        vec![("origin", "null")],
    ];
    for headers in attempts {
        let mut req = app
            .client
            .post(format!("{}/_fn/logout", app.address))
            .header(header::COOKIE, &cookie)
            .header(header::ACCEPT, crate::helpers::FORM_ACCEPT)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        for (k, v) in &headers {
            req = req.header(*k, *v);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{headers:?}");
        assert!(set_cookies(&res).is_empty());
    }
    assert_eq!(
        app.get("/", Some(&cookie)).await.status(),
        StatusCode::OK,
        "still signed in"
    );
}

#[tokio::test]
async fn an_external_redirect_target_is_ignored() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    for next in [
        "https://evil.example/",
        "//evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
    ] {
        let res = app
            .login_form("ada@example.com", PASSWORD, Some(next))
            .await;
        assert_eq!(location(&res), "/", "login next={next}");
        let cookie = session_cookie(&res).unwrap();
        let res = app.form("logout", Some(&cookie), &[("next", next)]).await;
        assert_eq!(location(&res), "/login?logged_out=1", "logout next={next}");
    }
    // A local path is followed.
    let res = app
        .login_form("ada@example.com", PASSWORD, Some("/register"))
        .await;
    assert_eq!(location(&res), "/register");
}

#[tokio::test]
async fn unknown_user_and_wrong_password_are_answered_alike() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let unknown = app.login_form("bob@example.com", PASSWORD, None).await;
    let wrong = app
        .login_form("ada@example.com", "wrong password", None)
        .await;
    for res in [&unknown, &wrong] {
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(res), "/login?error=credentials");
        assert!(
            session_cookie(res).is_none(),
            "no session for a failed login"
        );
    }
}

#[tokio::test]
async fn the_javascript_client_gets_a_redirect_header_instead_of_a_303() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let res = app
        .client
        .post(format!("{}/_fn/login", app.address))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .header("sec-fetch-site", "same-origin")
        .body(format!(
            "email=ada%40example.com&password={}",
            PASSWORD.replace(' ', "+")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(location(&res), "/");
    assert!(res.headers().contains_key("serverfnredirect"));
    assert!(session_cookie(&res).is_some());
}

#[tokio::test]
async fn sessions_survive_a_restart() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let cookie = app.browser_login("ada@example.com").await;
    let restarted = start(&app.database_url).await;
    let home = restarted.get("/", Some(&cookie)).await;
    assert_eq!(home.status(), StatusCode::OK);
    assert!(home.text().await.unwrap().contains("ada@example.com"));
}

#[tokio::test]
async fn signed_in_visitors_of_login_go_home() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let cookie = app.browser_login("ada@example.com").await;
    assert_eq!(location(&app.get("/login", Some(&cookie)).await), "/");
    assert_eq!(app.get("/login", None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn pages_send_a_content_security_policy_with_the_nonce_of_their_scripts() {
    let app = spawn_app().await;
    let cookie = {
        app.create_user("ada@example.com").await;
        app.browser_login("ada@example.com").await
    };
    for (path, cookie) in [
        ("/login", None),
        ("/", Some(cookie.as_str())),
        ("/nope", None),
    ] {
        let res = app.get(path, cookie).await;
        let policy = res
            .headers()
            .get("content-security-policy")
            .unwrap_or_else(|| panic!("{path}: no Content-Security-Policy"))
            .to_str()
            .unwrap()
            .to_owned();
        let nonce = policy
            .split("'nonce-")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .unwrap_or_else(|| panic!("{path}: no nonce in {policy}"))
            .to_owned();
        assert!(nonce.len() >= 16, "{path}: {nonce}");
        for part in [
            "'strict-dynamic'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ] {
            assert!(policy.contains(part), "{path}: {part} in {policy}");
        }
        let html = res.text().await.unwrap();
        assert!(
            html.contains(&format!("nonce=\"{nonce}\"")),
            "{path}: the page's scripts carry the header's nonce"
        );
    }
}
