//! Sign-in abuse and session lifetime: throttling (429 per dialect), 415, HEAD, no echoed values,
//! idle and absolute lifetimes with short configured times, the reason on /login, hashed session
//! ids, the `__Host-` cookie, JWT key rotation, and server-function errors.

use std::time::Duration;

use reqwest::{header, Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{
    location, require_postgres, session_cookie, set_cookies, spawn_app, spawn_app_with, start,
    TestApp, FORM_ACCEPT, PASSWORD,
};

async fn login_000(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    let body = json!({ "email": email, "password": password });
    app.post_json("/api/v1/account/login", &body).await
}

async fn login_004(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    let body = json!({ "email": email, "password": password });
    app.post_json("/api/auth/login", &body).await
}

/// Fails the account's password until the server throttles it; returns the 429.
async fn throttle(app: &TestApp, email: &str) -> reqwest::Response {
    for _ in 0..20 {
        let res = login_000(app, email, "wrong password!").await;
        match res.status() {
            StatusCode::UNAUTHORIZED => continue,
            StatusCode::TOO_MANY_REQUESTS => return res,
            other => panic!("unexpected {other}"),
        }
    }
    panic!("never throttled");
}

fn retry_after(res: &reqwest::Response) -> u64 {
    res.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn repeated_wrong_passwords_are_throttled_with_429_in_each_dialect_the_right_one_too() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    // The first five failures are plain 401s.
    for _ in 0..5 {
        assert_eq!(
            login_000(&app, "ada@example.com", "wrong password!")
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let res = throttle(&app, "ada@example.com").await;
    assert!(retry_after(&res) >= 1);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"error": {"message": "Too many attempts.", "code": 429}})
    );
    // The right password waits too, and so does seed 004 (one count per account).
    let right = login_000(&app, "ada@example.com", PASSWORD).await;
    assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS);
    let jwt = login_004(&app, "ADA@example.com", PASSWORD).await;
    assert_eq!(jwt.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&jwt) >= 1);
    assert_eq!(
        jwt.json::<Value>().await.unwrap(),
        json!({"code": 429, "message": "too many requests", "data": {}})
    );
    // The browser's sign-in page says so, in words.
    let res = app.login_form("ada@example.com", PASSWORD, None).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&res).starts_with("/login?error=throttled"),
        "{}",
        location(&res)
    );
    let page = app.get(&location(&res), None).await.text().await.unwrap();
    assert!(page.contains("Too many attempts"), "{page}");
}

#[tokio::test]
async fn another_account_is_unaffected_and_a_success_resets_the_count() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    app.create_user("bob@example.com").await;
    throttle(&app, "ada@example.com").await;
    assert_eq!(
        login_000(&app, "bob@example.com", PASSWORD).await.status(),
        StatusCode::OK,
        "the same address, another account"
    );
    // Bob: four failures, a success, then five more failures are still only 401s.
    for _ in 0..4 {
        login_000(&app, "bob@example.com", "wrong password!").await;
    }
    assert_eq!(
        login_000(&app, "bob@example.com", PASSWORD).await.status(),
        StatusCode::OK
    );
    for _ in 0..5 {
        assert_eq!(
            login_000(&app, "bob@example.com", "wrong password!")
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // Ada's lock runs out (the first lock is a second or two).
    let wait = app
        .sql_count(
            "SELECT MAX(locked_until) FROM login_throttle WHERE key LIKE 'pair:ada@example.com|%'",
        )
        .await
        - signoff::server::db::now();
    tokio::time::sleep(Duration::from_secs(wait.max(0) as u64 + 1)).await;
    assert_eq!(
        login_000(&app, "ada@example.com", PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn failed_sign_ins_are_audited_for_the_owner_without_the_password() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    login_000(&app, "ada@example.com", "hunter2-not-it").await;
    let detail = app
        .sql_text("SELECT detail FROM audit_events WHERE event = 'sign_in_failed'")
        .await;
    assert!(detail.contains("seed 000 login"), "{detail}");
    assert!(!detail.contains("hunter2"));
    let cookie = app.browser_login("ada@example.com").await;
    let page = app
        .get("/sessions", Some(&cookie))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Failed sign-in"),
        "the owner sees it on /sessions"
    );
    assert!(!crate::helpers::captured_logs().contains("hunter2-not-it"));
}

#[tokio::test]
async fn throttling_holds_across_instances() {
    let Some(db) = require_postgres("throttling_holds_across_instances").await else {
        return;
    };
    let a = start(&db.url).await;
    let b = start(&db.url).await;
    a.create_user("ada@example.com").await;
    throttle(&a, "ada@example.com").await;
    assert_eq!(
        login_000(&b, "ada@example.com", PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn a_json_endpoint_refuses_other_content_types_with_415_in_its_envelope() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let token = app.opaque_token("ada@example.com").await;
    let cases: [(reqwest::Method, &str, Value); 4] = [
        (
            reqwest::Method::POST,
            "/api/v1/account/login",
            json!({"error": {"message": "Unsupported media type.", "code": 415}}),
        ),
        (
            reqwest::Method::POST,
            "/auth/logout",
            json!({"message": "Unsupported media type", "description": "Send application/json", "code": "UNSUPPORTED_MEDIA_TYPE"}),
        ),
        (
            reqwest::Method::DELETE,
            "/api/v1/logout",
            json!({"message": "Unsupported Media Type."}),
        ),
        (
            reqwest::Method::POST,
            "/api/auth/logout",
            json!({"code": 415, "message": "unsupported media type", "data": {}}),
        ),
    ];
    for (method, path, body) in cases {
        // What a cross-site HTML form can send.
        let res = app
            .client
            .request(method, app.url(path))
            .bearer_auth(&token)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body("email=ada%40example.com&password=x&scope=global")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{path}");
        assert_eq!(res.json::<Value>().await.unwrap(), body, "{path}");
    }
    assert!(app.accepted(&token).await, "nothing was logged out");
    // No body at all needs no type.
    let res = app.logout_002(&token).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn head_never_ends_a_sign_in() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let token = app.opaque_token("ada@example.com").await;
    let res = app
        .client
        .head(app.url(&format!("/api/v1/account/logout?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers()[header::ALLOW], "GET");
    let post = app
        .bare(
            Method::POST,
            &format!("/api/v1/account/logout?token={token}"),
        )
        .await;
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(post.headers()[header::ALLOW], "GET");
    assert!(app.accepted(&token).await);
}

#[tokio::test]
async fn no_error_repeats_a_submitted_value() {
    let app = spawn_app().await;
    let probes: [(&str, Value); 4] = [
        (
            "/api/v1/account/register",
            json!({"email": 424242, "password": "x"}),
        ),
        (
            "/api/v1/account/login",
            json!({"email": "ada@example.com", "password": 424242}),
        ),
        ("/api/auth/refresh", json!({"refresh_token": 424242})),
        (
            "/api/auth/login",
            json!({"email": "probe-424242", "password": ""}),
        ),
    ];
    for (path, body) in probes {
        let res = app.post_json(path, &body).await;
        assert!(res.status().is_client_error(), "{path}");
        let text = res.text().await.unwrap();
        assert!(!text.contains("424242"), "{path} repeats the value: {text}");
    }
    let res = app
        .logout_001(
            "so_at_probe424242",
            Some(json!({"scope": "everything-424242"})),
        )
        .await;
    assert!(!res.text().await.unwrap().contains("424242"));
}

#[tokio::test]
async fn idle_sign_ins_slide_with_use_and_end_when_unused_saying_why() {
    // Times are whole seconds: 4 s leaves room for a second's rounding on a busy machine.
    let app = spawn_app_with(|c| c.session_idle = Duration::from_secs(4)).await;
    app.create_user("ada@example.com").await;
    let cookie = app.browser_login("ada@example.com").await;
    let token = app.opaque_token("ada@example.com").await;
    // Used every 1.5 s for 7.5 s: nearly twice the idle time, still signed in.
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(app.get("/", Some(&cookie)).await.status(), StatusCode::OK);
        assert!(app.accepted(&token).await);
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let res = app.get("/", Some(&cookie)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/login?ended=idle");
    let page = app
        .get("/login?ended=idle", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("You were signed out after a period of inactivity."));
    assert!(!app.accepted(&token).await);
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM signins WHERE end_reason = 'idle'")
            .await,
        2
    );
}

#[tokio::test]
async fn the_session_store_expiry_slides_too() {
    let app = spawn_app_with(|c| c.session_idle = Duration::from_secs(8)).await;
    app.create_user("ada@example.com").await;
    let cookie = app.browser_login("ada@example.com").await;
    let table = app.sessions_table();
    let expiry = || async {
        app.sql_text(&format!("SELECT CAST(expiry_date AS TEXT) FROM {table}"))
            .await
    };
    let before = expiry().await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(app.get("/", Some(&cookie)).await.status(), StatusCode::OK);
    assert_ne!(expiry().await, before, "a use moves the store's expiry");
}

#[tokio::test]
async fn the_absolute_limit_ends_a_sign_in_in_daily_use() {
    let app = spawn_app_with(|c| {
        c.session_idle = Duration::from_secs(60);
        // Times are whole seconds: 4 s leaves room for a second's rounding on a busy machine.
        c.session_absolute = Duration::from_secs(4);
    })
    .await;
    app.create_user("ada@example.com").await;
    let cookie = app.browser_login("ada@example.com").await;
    let (access, refresh) = app.jwt_pair("ada@example.com").await;
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(app.get("/", Some(&cookie)).await.status(), StatusCode::OK);
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let res = app.get("/tokens", Some(&cookie)).await;
    assert_eq!(location(&res), "/login?ended=absolute");
    let res = app.refresh_004(&json!({"refresh_token": refresh})).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(!app.accepted(&access).await);
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM signins WHERE end_reason = 'absolute'")
            .await,
        2
    );
}

#[tokio::test]
async fn a_page_signed_out_elsewhere_lands_on_login_saying_why_without_javascript() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let cookie = app.browser_login("ada@example.com").await;
    let token = app.opaque_token("ada@example.com").await;
    let res = app
        .logout_001(&token, Some(json!({"scope": "others"})))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.get("/sessions", Some(&cookie)).await;
    assert_eq!(location(&res), "/login?ended=logout_others");
    let page = app.get(&location(&res), None).await.text().await.unwrap();
    assert!(page.contains("role=\"status\""));
    assert!(page.contains("You were signed out from another of your devices."));
    // The client libraries' endpoint says why a token no longer works.
    let again = app.logout_001(&token, None).await;
    assert_eq!(again.status(), StatusCode::OK, "the token itself was kept");
    let res = app.logout_001(&token, None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["signoff-ended-reason"], "logout");
}

#[tokio::test]
async fn session_ids_are_stored_only_as_hashes() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let cookie = app.browser_login("ada@example.com").await;
    let value = cookie.split_once('=').unwrap().1.to_owned();
    let table = app.sessions_table();
    assert_eq!(
        app.sql_count(&format!("SELECT COUNT(*) FROM {table}"))
            .await,
        1
    );
    assert_eq!(
        app.sql_count(&format!(
            "SELECT COUNT(*) FROM {table} WHERE id = '{value}'"
        ))
        .await,
        0,
        "the cookie's id is not in the store"
    );
    assert_eq!(app.get("/", Some(&cookie)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn over_https_the_cookie_is_host_prefixed_and_secure() {
    let app = spawn_app_with(|c| c.secure_cookies = true).await;
    app.create_user("ada@example.com").await;
    let res = app.login_form("ada@example.com", PASSWORD, None).await;
    let cookies = set_cookies(&res);
    let cookie = cookies
        .iter()
        .find(|c| c.starts_with("__Host-signoff_session="))
        .unwrap_or_else(|| panic!("{cookies:?}"));
    assert!(cookie.contains("Secure") && cookie.contains("Path=/") && !cookie.contains("Domain"));
    let _ = session_cookie;
}

#[tokio::test]
async fn a_rotated_jwt_key_still_accepts_its_tokens_until_it_is_dropped() {
    let old = "old-secret-old-secret-old-secret-0001";
    let new = "new-secret-new-secret-new-secret-0002";
    let app = spawn_app_with(|c| c.jwt_secret = Some(old.into())).await;
    app.create_user("ada@example.com").await;
    let (access, refresh) = app.jwt_pair("ada@example.com").await;
    let url = app.database_url.clone();
    let mut config = signoff::server::Config::for_tests(&url);
    config.jwt_secret = Some(new.into());
    config.jwt_previous_secret = Some(old.into());
    let rotated = crate::helpers::start_with(config).await;
    assert!(rotated.accepted(&access).await, "the previous key's token");
    let res = rotated
        .refresh_004(&json!({"refresh_token": refresh}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let fresh: Value = res.json().await.unwrap();
    let fresh_access = fresh["data"]["access_token"].as_str().unwrap().to_owned();
    let mut config = signoff::server::Config::for_tests(&url);
    config.jwt_secret = Some(new.into());
    let dropped = crate::helpers::start_with(config).await;
    assert!(
        dropped.accepted(&fresh_access).await,
        "signed with the new key"
    );
    assert!(!dropped.accepted(&access).await, "the old key is gone");
}

#[tokio::test]
async fn the_development_jwt_secret_is_an_owner_only_file_and_never_in_the_database() {
    use std::os::unix::fs::PermissionsExt;
    let keys = tempfile::tempdir().unwrap();
    let dir = keys.path().join("keys");
    let app = spawn_app_with(|c| c.oidc_keys = Some(dir.clone())).await;
    app.create_user("ada@example.com").await;
    let (access, _) = app.jwt_pair("ada@example.com").await;
    assert!(app.accepted(&access).await);
    let file = dir.join(signoff::server::domain::keys::SECRET_FILE);
    let secret = std::fs::read_to_string(&file).unwrap();
    assert!(secret.trim().len() >= 32);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM settings WHERE key = 'jwt_secret'")
            .await,
        0
    );

    // A database from an earlier version, its secret in the settings table: the secret moves to
    // the file (its tokens stay valid) and leaves the database.
    let old = "an-old-secret-kept-in-the-database-0123456789";
    app.sql(&format!(
        "INSERT INTO settings (key, value) VALUES ('jwt_secret', '{old}')"
    ))
    .await;
    let moved = keys.path().join("moved");
    let mut config = signoff::server::Config::for_tests(&app.database_url);
    config.oidc_keys = Some(moved.clone());
    let upgraded = crate::helpers::start_with(config).await;
    let file = moved.join(signoff::server::domain::keys::SECRET_FILE);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), old);
    assert_eq!(
        upgraded
            .sql_count("SELECT COUNT(*) FROM settings WHERE key = 'jwt_secret'")
            .await,
        0
    );
    // A token signed with that secret is accepted (its sign-in being real).
    let mut config = signoff::server::Config::for_tests(&app.database_url);
    config.jwt_secret = Some(old.into());
    let minter = crate::helpers::start_with(config).await;
    let (access, _) = minter.jwt_pair("ada@example.com").await;
    assert!(upgraded.accepted(&access).await);
}

#[test]
fn production_mode_requires_the_jwt_secret() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_signoff"))
        .env("LEPTOS_ENV", "PROD")
        .env("LEPTOS_OUTPUT_NAME", "signoff")
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env_remove("SIGNOFF_JWT_SECRET")
        .env("SIGNOFF_SECURE_COOKIES", "false")
        .env("DATABASE_URL", "sqlite::memory:")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SIGNOFF_JWT_SECRET is required"));
}

#[test]
fn production_mode_requires_https_cookies_unless_plain_http_is_said_in_so_many_words() {
    let run = |env: &[(&str, &str)]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_signoff"))
            .env("LEPTOS_ENV", "PROD")
            .env("LEPTOS_OUTPUT_NAME", "signoff")
            .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
            .env(
                "SIGNOFF_JWT_SECRET",
                "a-test-secret-a-test-secret-0123456789",
            )
            .env_remove("SIGNOFF_PUBLIC_URL")
            .env_remove("SIGNOFF_SECURE_COOKIES")
            .env_remove("SIGNOFF_OIDC_KEYS")
            .envs(env.iter().copied())
            .env("DATABASE_URL", "sqlite::memory:")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap()
    };
    let stderr = |out: &std::process::Output| String::from_utf8_lossy(&out.stderr).into_owned();
    // Neither an https public URL nor an explicit plain-http deployment: no start.
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("serves over https"),
        "{}",
        stderr(&out)
    );
    // Either gets past that check (to the next one: the OpenID keys, left out here).
    for env in [
        [("SIGNOFF_PUBLIC_URL", "https://signoff.example")],
        [("SIGNOFF_SECURE_COOKIES", "false")],
    ] {
        let out = run(&env);
        assert_eq!(out.status.code(), Some(2));
        assert!(
            !stderr(&out).contains("serves over https"),
            "{}",
            stderr(&out)
        );
        assert!(
            stderr(&out).contains("SIGNOFF_OIDC_KEYS is required"),
            "{}",
            stderr(&out)
        );
    }
}

#[tokio::test]
async fn a_failing_server_function_never_redirects_off_site_nor_shows_its_error() {
    let app = spawn_app().await;
    let host = app.address.trim_start_matches("http://").to_owned();
    for (referer, expected) in [
        (
            "https://evil.example/phish".to_owned(),
            "/?error=internal".to_owned(),
        ),
        (
            format!("http://{host}/register"),
            "/register?error=internal".to_owned(),
        ),
    ] {
        let res = app
            .client
            .post(app.url("/_fn/register"))
            .header(header::ACCEPT, FORM_ACCEPT)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::REFERER, &referer)
            .header("sec-fetch-site", "same-origin")
            .body("nothing=here")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{referer}");
        assert_eq!(location(&res), expected);
        assert_eq!(res.text().await.unwrap(), "");
    }
}
