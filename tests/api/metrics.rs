//! What operators see: Prometheus metrics on their own listener, moving with real logouts, with no
//! secret in any label. The scraped text is left in `target/metrics.txt` for `promtool check
//! metrics` (`scripts/test`).

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{spawn_app_with, TestApp, PASSWORD};

/// The sum of the values of every sample of `name` whose labels include all of `labels`
/// (`key="value"` each). Other tests share the process's recorder: compare before and after.
fn value(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.rsplit_once(' '))
        .filter(|(series, _)| {
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            metric == name && labels.iter().all(|l| rest.contains(l))
        })
        .filter_map(|(_, v)| v.parse::<f64>().ok())
        .sum()
}

async fn scrape(app: &TestApp) -> String {
    let url = format!("{}/metrics", app.metrics.as_ref().expect("metrics are on"));
    let res = app.client.get(url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    res.text().await.unwrap()
}

#[tokio::test]
async fn the_series_move_with_real_logouts_and_carry_no_secret() {
    let app = spawn_app_with(|c| c.metrics_addr = Some("127.0.0.1:0".parse().unwrap())).await;
    app.create_user("ada@example.com").await;
    let before = scrape(&app).await;

    // A seed 002 logout, a browser's Log out button, and a throttled sign-in.
    let token = app.opaque_token("ada@example.com").await;
    assert_eq!(
        app.logout_002(&token).await.status(),
        StatusCode::NO_CONTENT
    );
    let cookie = app.browser_login("ada@example.com").await;
    let res = app
        .client
        .post(app.url("/_fn/logout"))
        .header("cookie", &cookie)
        .header("origin", &app.address)
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert!(
        res.status().is_redirection() || res.status().is_success(),
        "{}",
        res.status()
    );
    let mut throttled = false;
    for _ in 0..40 {
        let res = app
            .post_json(
                "/api/v1/account/login",
                &json!({"email": "ada@example.com", "password": "not the password"}),
            )
            .await;
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            throttled = true;
            break;
        }
    }
    assert!(throttled, "wrong passwords end in 429");
    let after = scrape(&app).await;

    let moved =
        |name: &str, labels: &[&str]| value(&after, name, labels) - value(&before, name, labels);
    assert!(
        moved("signoff_signins_ended_total", &[r#"reason="logout""#]) >= 2.0,
        "{after}"
    );
    assert!(
        moved(
            "signoff_logout_duration_seconds_count",
            &[r#"dialect="002""#]
        ) >= 1.0
    );
    assert!(
        moved(
            "signoff_logout_duration_seconds_count",
            &[r#"dialect="browser""#]
        ) >= 1.0
    );
    assert!(moved("signoff_throttled_total", &[]) >= 1.0);
    assert!(
        moved(
            "signoff_http_requests_total",
            &[
                r#"route="/api/v1/logout""#,
                r#"method="DELETE""#,
                r#"status="204""#
            ]
        ) >= 1.0
    );
    assert!(
        moved(
            "signoff_http_request_duration_seconds_count",
            &[r#"route="/api/v1/logout""#]
        ) >= 1.0
    );
    for level in [
        "signoff_signins_active",
        "signoff_denylist_entries",
        "signoff_outbox_pending",
        "signoff_event_streams",
    ] {
        assert!(
            after.lines().any(|l| l.starts_with(level)),
            "{level} is missing"
        );
    }
    // The denylist holds both ended sign-ins.
    assert!(value(&after, "signoff_denylist_entries", &[]) >= 2.0);
    if matches!(app.state.auth.db(), signoff::server::db::Db::Postgres(_)) {
        // Every instance hears its own notifications: the lag of both was measured.
        assert!(
            moved("signoff_revocation_lag_seconds_count", &[]) >= 2.0,
            "{after}"
        );
    }

    // No secret and nothing unbounded in any label: no token, email, cookie, password or query.
    let session = cookie.split_once('=').unwrap().1;
    for secret in [
        token.as_str(),
        "ada@example.com",
        session,
        PASSWORD,
        "not the password",
        "?",
    ] {
        let leaked = after
            .lines()
            .filter(|l| !l.starts_with('#'))
            .find(|l| l.contains(secret));
        assert!(leaked.is_none(), "{secret:?} in {leaked:?}");
    }
    // An unknown server function or path is one label, whatever its name.
    let _ = app.client.post(app.url("/_fn/made_up_name")).send().await;
    let _ = app.get("/no/such/page/xyz", None).await;
    let last = scrape(&app).await;
    assert!(
        !last.contains("made_up_name") && !last.contains("xyz"),
        "{last}"
    );
    // Nothing of it on the public port.
    let public = app.get("/metrics", None).await;
    assert_eq!(public.status(), StatusCode::NOT_FOUND);
    std::fs::write(
        concat!(env!("CARGO_MANIFEST_DIR"), "/target/metrics.txt"),
        &last,
    )
    .unwrap();
}
