//! The operator command line (`signoff sessions list/end`, `signoff webhooks`, `--help`), run as
//! the real binary against the test server's database.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::{spawn_app, TestApp};

fn signoff(app: &TestApp, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_signoff"))
        .args(args)
        .env("DATABASE_URL", &app.database_url)
        .env("RUST_LOG", "warn")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs")
}

fn stdout(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn an_operator_ends_every_sign_in_of_an_account_and_the_audit_says_so() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    app.create_user("bob@example.com").await;
    let cookie = app.browser_login("ada@example.com").await;
    let token = app.opaque_token("ada@example.com").await;
    let (access, _) = app.jwt_pair("ada@example.com").await;
    let bobs = app.opaque_token("bob@example.com").await;

    let listed: Value = serde_json::from_str(&stdout(&signoff(
        &app,
        &["sessions", "list", "--email", "ADA@example.com", "--json"],
    )))
    .unwrap();
    assert_eq!(listed["signins"].as_array().unwrap().len(), 3, "{listed}");

    let out = stdout(&signoff(
        &app,
        &[
            "sessions",
            "end",
            "--email",
            "ada@example.com",
            "--reason",
            "incident 42",
        ],
    ));
    assert!(out.contains("Ended 3 sign-ins"), "{out}");

    assert!(!app.accepted(&token).await);
    // The running server learns of another process's endings within half a second (SQLite) or
    // at once (PostgreSQL notifications); JWTs are refused from then on.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while app.accepted(&access).await {
        assert!(tokio::time::Instant::now() < deadline, "the JWT is refused");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let home = app.get("/", Some(&cookie)).await;
    assert_eq!(home.status(), reqwest::StatusCode::SEE_OTHER);
    assert!(app.accepted(&bobs).await, "another account is untouched");
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM signins WHERE end_reason = 'admin'")
            .await,
        3
    );
    let detail = app
        .sql_text("SELECT detail FROM audit_events WHERE event = 'admin_logout'")
        .await;
    assert!(
        detail.contains("3 sign-ins") && detail.contains("incident 42"),
        "{detail}"
    );

    let after = stdout(&signoff(
        &app,
        &["sessions", "list", "--email", "ada@example.com"],
    ));
    assert!(after.contains("no active sign-in"), "{after}");
}

#[tokio::test]
async fn unknown_accounts_and_commands_fail_with_a_message() {
    let app = spawn_app().await;
    let out = signoff(&app, &["sessions", "end", "--email", "nobody@example.com"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no account has this email"));
    let out = signoff(&app, &["bench-mint"]);
    assert!(
        !out.status.success(),
        "benchmark helpers are not production commands"
    );
}

#[tokio::test]
async fn every_command_has_help() {
    let app = spawn_app().await;
    for args in [
        &["--help"][..],
        &["sessions", "--help"],
        &["sessions", "list", "--help"],
        &["sessions", "end", "--help"],
        &["prune", "--help"],
        &["webhooks", "--help"],
        &["serve", "--help"],
    ] {
        let out = stdout(&signoff(&app, args));
        assert!(out.contains("Usage:"), "{args:?}: {out}");
    }
}

#[tokio::test]
async fn operators_see_where_deliveries_stand() {
    let app = spawn_app().await;
    let status: Value =
        serde_json::from_str(&stdout(&signoff(&app, &["webhooks", "--json"]))).unwrap();
    assert_eq!(status["pending"], 0);
    assert_eq!(status["delivered"], 0);
    assert_eq!(status["failed"], 0);
}

/// An operator's command run without the servers' webhook settings still writes `session.ended`
/// events for the receivers the servers named (recorded in the database at their start), for the
/// servers to deliver.
#[tokio::test]
async fn an_operators_ending_is_told_to_the_servers_receivers_without_their_settings() {
    let receiver = "http://127.0.0.1:9/hook";
    let app = crate::helpers::spawn_app_with(|c| {
        c.webhook_urls = vec![receiver.to_owned()];
        c.webhook_secret = Some(
            signoff::server::config::WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
                .unwrap(),
        );
    })
    .await;
    app.create_user("ada@example.com").await;
    app.opaque_token("ada@example.com").await;
    app.opaque_token("ada@example.com").await;
    // The command's environment names no receiver.
    let out = stdout(&signoff(
        &app,
        &["sessions", "end", "--email", "ada@example.com"],
    ));
    assert!(out.contains("Ended 2 sign-ins"), "{out}");
    assert_eq!(
        app.sql_count(&format!(
            "SELECT COUNT(*) FROM webhook_outbox WHERE endpoint = '{receiver}' \
             AND payload LIKE '%\"reason\":\"admin\"%'"
        ))
        .await,
        2
    );
}
