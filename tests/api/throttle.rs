//! Throttling that slows attackers and no one else (issue 27): guesses counted before they are
//! checked, lock-out that cannot lock the owner out (other addresses, a browser that signed in
//! before), and registration throttled per address. Every client here comes through a trusted
//! proxy on loopback, which names its address in `X-Forwarded-For`.

use futures_util::FutureExt;
use reqwest::StatusCode;
use serde_json::json;
use signoff::server::domain::throttle;

use crate::{
    hardening::login_via,
    helpers::{location, set_cookies, spawn_app_with, TestApp, FORM_ACCEPT, PASSWORD},
};

async fn proxied() -> TestApp {
    spawn_app_with(|c| c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await
}

/// The browser's login form from `address`, with `cookie` (its device cookie) if any: where it
/// lands, and the cookies it was given.
async fn form_login_via(
    app: &TestApp,
    email: &str,
    password: &str,
    address: &str,
    cookie: Option<&str>,
) -> (String, Vec<String>) {
    let mut req = app
        .client
        .post(app.url("/_fn/login"))
        .header("accept", FORM_ACCEPT)
        .header("sec-fetch-site", "same-origin")
        .header("x-forwarded-for", address)
        .form(&[("email", email), ("password", password)]);
    if let Some(cookie) = cookie {
        req = req.header("cookie", cookie);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    (location(&res), set_cookies(&res))
}

const ATTACKER: &str = "203.0.113.9";

/// One wrong guess at ada@example.com's password, from [`ATTACKER`].
fn guess_ada(app: &TestApp) -> impl std::future::Future<Output = reqwest::Response> + '_ {
    app.client
        .post(app.url("/api/v1/account/login"))
        .header("x-forwarded-for", ATTACKER)
        .json(&json!({"email": "ada@example.com", "password": "a wrong guess"}))
        .send()
        .map(Result::unwrap)
}

/// Sends `attempt` until it is refused with a lock of three seconds or more (waiting out shorter
/// ones: locks are counted in whole seconds, so a one-second lock may end at once), so that the
/// next request is surely refused if the key is what refuses it. Returns how many were admitted.
async fn until_locked<F, Fut>(mut attempt: F) -> usize
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = reqwest::Response>,
{
    let mut admitted = 0;
    for _ in 0..40 {
        let res = attempt().await;
        if res.status() != StatusCode::TOO_MANY_REQUESTS {
            admitted += 1;
            continue;
        }
        let wait: u64 = res.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        if wait >= 3 {
            return admitted;
        }
        tokio::time::sleep(std::time::Duration::from_millis(wait * 1000 + 100)).await;
    }
    panic!("never locked");
}

#[tokio::test]
async fn guesses_sent_all_at_once_are_counted_before_any_is_checked() {
    let app = proxied().await;
    app.create_user("ada@example.com").await;
    let guesses = (0..40).map(|i| {
        let app = &app;
        async move { login_via(app, "ada@example.com", &format!("guess {i}!"), ATTACKER).await }
    });
    let answers = futures_util::future::join_all(guesses).await;
    let checked = answers
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let refused = answers
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(checked + refused, answers.len(), "{answers:?}");
    // The allowance, and the one attempt that starts the back-off: no more were checked.
    assert!(
        checked <= throttle::PAIR.free as usize + 1,
        "{checked} of 40 simultaneous guesses were checked"
    );
}

#[tokio::test]
async fn wrong_passwords_from_one_address_never_lock_the_owner_out() {
    let app = proxied().await;
    app.create_user("ada@example.com").await;
    // Ada signed in from her laptop once: the browser keeps a device cookie.
    let (to, cookies) =
        form_login_via(&app, "ada@example.com", PASSWORD, "198.51.100.7", None).await;
    assert_eq!(to, "/");
    let device = cookie_pair(&cookies, "signoff_device");
    assert!(
        cookies.iter().any(|c| c.contains("HttpOnly")),
        "{cookies:?}"
    );

    // Someone guesses her password from another address until refused.
    let guessed = until_locked(|| guess_ada(&app)).await;
    assert!(guessed > throttle::PAIR.free as usize, "{guessed}");
    assert_eq!(
        login_via(&app, "ada@example.com", PASSWORD, ATTACKER).await,
        StatusCode::TOO_MANY_REQUESTS,
        "the guessing address waits, the right password too"
    );

    // Ada, from anywhere else, is not refused.
    assert_eq!(
        login_via(&app, "ada@example.com", PASSWORD, "192.0.2.44").await,
        StatusCode::OK
    );
    // Nor is her browser, even behind the attacker's address (a shared NAT).
    let (to, _) = form_login_via(&app, "ada@example.com", PASSWORD, ATTACKER, Some(&device)).await;
    assert_eq!(to, "/", "the trusted browser was refused");
    // A device cookie of someone else's does not help the attacker.
    let (to, _) = form_login_via(
        &app,
        "ada@example.com",
        PASSWORD,
        ATTACKER,
        Some("signoff_device=sod_forgedforgedforgedforgedforgedforgedforged"),
    )
    .await;
    assert!(to.starts_with("/login?error=throttled"), "{to}");
}

#[tokio::test]
async fn registration_is_throttled_per_address() {
    let app = proxied().await;
    let register = |email: String, address: &'static str| {
        app.client
            .post(app.url("/api/v1/account/register"))
            .header("x-forwarded-for", address)
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .map(Result::unwrap)
    };
    for i in 0..throttle::REGISTER.free {
        let res = register(format!("new{i}@example.com"), ATTACKER).await;
        assert_eq!(res.status(), StatusCode::CREATED, "registration {i}");
    }
    // More start the back-off; then they are refused before any hashing.
    let mut n = 0;
    until_locked(|| {
        n += 1;
        register(format!("more{n}@example.com"), ATTACKER)
    })
    .await;
    let res = register("refused@example.com".into(), ATTACKER).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM users WHERE email = 'refused@example.com'")
            .await,
        0
    );
    // Another address registers; and the register form says so in words.
    let res = register("elsewhere@example.com".into(), "198.51.100.7").await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = app
        .client
        .post(app.url("/_fn/register"))
        .header("accept", FORM_ACCEPT)
        .header("sec-fetch-site", "same-origin")
        .header("x-forwarded-for", ATTACKER)
        .form(&[("email", "form@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert!(
        location(&res).contains("error=throttled"),
        "{}",
        location(&res)
    );
}

#[tokio::test]
async fn one_sign_in_refreshing_in_a_loop_is_refused_past_its_limit() {
    let app = spawn_app_with(|c| c.refresh_per_minute = 5).await;
    app.create_user("ada@example.com").await;
    let (_, mut refresh) = app.jwt_pair("ada@example.com").await;
    for i in 0..5 {
        let res = app.refresh_004(&json!({ "refresh_token": refresh })).await;
        assert_eq!(res.status(), StatusCode::OK, "refresh {i}");
        let body: serde_json::Value = res.json().await.unwrap();
        refresh = body["data"]["refresh_token"].as_str().unwrap().to_owned();
    }
    let res = app.refresh_004(&json!({ "refresh_token": refresh })).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap(),
        json!({"code": 429, "message": "too many requests", "data": {}})
    );
    // Refused before anything was used up: the token still rotates once the limit allows, and
    // another sign-in of the same account is not held back meanwhile.
    let (_, other) = app.jwt_pair("ada@example.com").await;
    let res = app.refresh_004(&json!({ "refresh_token": other })).await;
    assert_eq!(res.status(), StatusCode::OK);
}

/// The first `name=value` of `cookies` (Set-Cookie values) named `name`.
fn cookie_pair(cookies: &[String], name: &str) -> String {
    cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie in {cookies:?}"))
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

/// `/sessions` lists the browsers trusted for the account, this one marked; one forgotten there is
/// counted by its address again, like any browser, and nobody else can forget it.
#[tokio::test]
async fn a_browser_forgotten_on_the_sessions_page_is_throttled_like_any_other() {
    let app = proxied().await;
    app.create_user("ada@example.com").await;
    let (_, cookies) =
        form_login_via(&app, "ada@example.com", PASSWORD, "198.51.100.7", None).await;
    let device = cookie_pair(&cookies, "signoff_device");
    let both = format!("{}; {device}", cookie_pair(&cookies, "signoff_session"));
    let sessions = async || {
        let res = app.get("/sessions", Some(&both)).await;
        res.text().await.unwrap()
    };
    let page = sessions().await;
    assert!(page.contains("Trusted browsers"), "{page}");
    assert!(page.contains("This browser"), "{page}");
    let id = app.sql_text("SELECT digest FROM trusted_devices").await;

    // Bob cannot forget Ada's browser.
    app.create_user("bob@example.com").await;
    let bob = app.browser_login("bob@example.com").await;
    let res = app.form("forget_browser", Some(&bob), &[("id", &id)]).await;
    assert_eq!(location(&res), "/sessions?forgot=1");
    let kept = "SELECT COUNT(*) FROM trusted_devices WHERE user_id = \
                (SELECT id FROM users WHERE email = 'ada@example.com')";
    assert_eq!(app.sql_count(kept).await, 1);

    // Ada forgets it.
    let res = app
        .form("forget_browser", Some(&both), &[("id", &id)])
        .await;
    assert_eq!(location(&res), "/sessions?forgot=1");
    assert_eq!(app.sql_count(kept).await, 0);
    let page = sessions().await;
    assert!(page.contains("No trusted browser."), "{page}");

    // Behind the address of someone guessing her password, it now waits like any browser.
    until_locked(|| guess_ada(&app)).await;
    let (to, _) = form_login_via(&app, "ada@example.com", PASSWORD, ATTACKER, Some(&device)).await;
    assert!(to.starts_with("/login?error=throttled"), "{to}");
}
