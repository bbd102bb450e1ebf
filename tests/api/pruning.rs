//! Pruning: what is past its expiry goes, what is live stays, and racing logouts lose nothing.

use std::time::Duration;

use reqwest::StatusCode;
use signoff::server::db::now;

use crate::helpers::{race, spawn_app, TestApp};

const DAY: i64 = 86_400;

async fn prune(app: &TestApp) -> signoff::server::domain::prune::PruneReport {
    app.state
        .auth
        .prune(
            Duration::from_secs(14 * DAY as u64),
            Duration::from_secs(90 * DAY as u64),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn entries_past_their_expiry_disappear_and_live_ones_stay() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let live_token = app.opaque_token("ada@example.com").await;
    let (live_jwt, live_refresh) = app.jwt_pair("ada@example.com").await;
    let live_cookie = app.browser_login("ada@example.com").await;
    let old_cookie = app.browser_login("ada@example.com").await;
    let expired_token = app.opaque_token("ada@example.com").await;
    let long_gone = app.opaque_token("ada@example.com").await;
    let t = now();

    // Age some of it by hand.
    let digest = signoff::server::domain::opaque::digest(&expired_token);
    app.sql(&format!(
        "UPDATE tokens SET expires_at = {} WHERE digest = '{digest}'",
        t - 1
    ))
    .await;
    let res = app.logout_002(&long_gone).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let digest = signoff::server::domain::opaque::digest(&long_gone);
    app.sql(&format!(
        "UPDATE signins SET ended_at = {} WHERE id = (SELECT signin_id FROM tokens WHERE digest = '{digest}')",
        t - 200 * DAY
    ))
    .await;
    app.sql(&format!(
        "INSERT INTO jwt_denylist (jti, expires_at) VALUES ('expired-jti', {}), ('live-jti', {})",
        t - 1,
        t + 600
    ))
    .await;
    app.sql(&format!(
        "INSERT INTO refresh_tokens (jti, signin_id, access_jti, expires_at) \
         SELECT 'spent-refresh', signin_id, 'x', {} FROM refresh_tokens LIMIT 1",
        t - 1
    ))
    .await;
    // The store keeps only a hash of the cookie's id.
    let old_session =
        signoff::server::sessions::stored_id_of_cookie(old_cookie.split_once('=').unwrap().1)
            .unwrap();
    let past = match app.state.auth.db() {
        signoff::server::db::Db::Sqlite(_) => "'2000-01-01T00:00:00Z'",
        signoff::server::db::Db::Postgres(_) => "'2000-01-01 00:00:00+00'",
    };
    app.sql(&format!(
        "UPDATE {} SET expiry_date = {past} WHERE id = '{old_session}'",
        app.sessions_table()
    ))
    .await;
    app.state.auth.revocations().insert("memory-expired", t - 1);

    let report = prune(&app).await;
    assert_eq!(report.signins_expired, 1, "{report:?}");
    assert_eq!(report.sessions, 1, "{report:?}");
    assert_eq!(report.refresh_tokens, 1, "{report:?}");
    assert_eq!(report.denylist, 1, "{report:?}");
    assert_eq!(report.signins_deleted, 1, "{report:?}");
    assert!(report.memory >= 1, "{report:?}");
    assert!(!app.state.auth.revocations().contains("memory-expired"));

    // Live things stay and work.
    assert!(app.accepted(&live_token).await);
    assert!(app.accepted(&live_jwt).await);
    assert_eq!(
        app.get("/", Some(&live_cookie)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM jwt_denylist WHERE jti = 'live-jti'")
            .await,
        1
    );
    let res = app
        .refresh_004(&serde_json::json!({"refresh_token": live_refresh}))
        .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "the live refresh token survived"
    );
    // Dead things stay dead.
    assert!(!app.accepted(&expired_token).await);
    assert_ne!(
        app.get("/", Some(&old_cookie)).await.status(),
        StatusCode::OK
    );
    // A second pass finds nothing more to do.
    let again = prune(&app).await;
    assert_eq!(
        (
            again.signins_expired,
            again.sessions,
            again.denylist,
            again.signins_deleted
        ),
        (0, 0, 0, 0),
        "{again:?}"
    );
}

#[tokio::test]
async fn a_logout_racing_the_pruner_loses_nothing() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let mut tokens = Vec::new();
    for _ in 0..30 {
        tokens.push(app.opaque_token("ada@example.com").await);
    }
    let pruner = {
        let auth = app.state.auth.clone();
        tokio::spawn(async move {
            for _ in 0..20 {
                auth.prune(
                    Duration::from_secs(14 * DAY as u64),
                    Duration::from_secs(90 * DAY as u64),
                )
                .await
                .unwrap();
            }
        })
    };
    let logouts = tokens.iter().map(|token| app.opaque_logout(2, token));
    for status in race(logouts).await {
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    pruner.await.unwrap();
    for token in &tokens {
        assert!(!app.accepted(token).await);
    }
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM signins WHERE end_reason = 'logout'")
            .await,
        30
    );
    assert_eq!(
        app.sql_count(
            "SELECT COUNT(*) FROM audit_events WHERE event = 'logout' AND detail LIKE '%seed 002%'"
        )
        .await,
        30
    );
}

#[tokio::test]
async fn the_prune_command_runs_once_and_reports() {
    let app = spawn_app().await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_signoff"))
        .arg("prune")
        .env("DATABASE_URL", &app.database_url)
        .env("RUST_LOG", "warn")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["denylist"], 0);
    assert!(report.get("signins_deleted").is_some());
}
