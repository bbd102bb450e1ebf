//! A new sign-in commits only if what authorised it still holds at commit (issue 27): the password
//! it was checked against, the sign-in that asked for a personal token. On PostgreSQL the check
//! waits for an ending or a password change in flight on the same account.

use std::time::Duration;

use signoff::server::{
    db::Db,
    domain::{AuthError, Authority, Caller, ClientMeta, Scope, SigninKind},
};

use crate::helpers::{spawn_app, PASSWORD};

#[tokio::test]
async fn a_login_checked_against_a_password_changed_meanwhile_never_commits() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let auth = &app.state.auth;
    let meta = ClientMeta::default();
    // The password is checked…
    let verified = auth
        .check_password("ada@example.com", PASSWORD.into(), &meta, "test")
        .await
        .unwrap();
    // …the password changes (from another sign-in, which stays)…
    let other = auth
        .start_signin(&verified.user, SigninKind::Browser, &meta, "test")
        .await
        .unwrap();
    auth.change_password(
        &verified.user,
        &other.id,
        PASSWORD.into(),
        "a brand new password".into(),
        true,
        &meta,
    )
    .await
    .unwrap();
    // …and the sign-in the old password authorised does not start, in any dialect.
    let meta = meta.authorised_by(verified.authority.clone());
    let err = auth
        .issue_opaque(&verified.user, &meta)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, AuthError::InvalidCredentials), "{err:?}");
    let err = auth
        .issue_jwt_pair(&verified.user, &meta)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, AuthError::InvalidCredentials), "{err:?}");
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM signins WHERE ended_at IS NULL")
            .await,
        1,
        "only the sign-in that changed the password"
    );
    // Checked against the new password, it starts.
    let verified = auth
        .check_password(
            "ada@example.com",
            "a brand new password".into(),
            &ClientMeta::default(),
            "test",
        )
        .await
        .unwrap();
    let meta = ClientMeta::default().authorised_by(verified.authority);
    auth.issue_opaque(&verified.user, &meta).await.unwrap();
}

#[tokio::test]
async fn a_personal_token_asked_for_by_a_sign_in_that_ended_meanwhile_is_never_made() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let auth = &app.state.auth;
    let ada = auth
        .user_by_email("ada@example.com")
        .await
        .unwrap()
        .unwrap();
    let page = auth
        .start_signin(&ada, SigninKind::Browser, &ClientMeta::default(), "test")
        .await
        .unwrap();
    let asking = ClientMeta::default().authorised_by(Authority::Signin(page.id.clone()));
    // While the page's sign-in is active, the token is made.
    auth.create_personal_token(&ada, "deploy", &asking)
        .await
        .unwrap();
    // "Log out everywhere" ends it (and the token); a request that was already under way
    // afterwards makes nothing.
    auth.logout(Caller::Signin(page.id.clone()), Scope::Global, "test")
        .await
        .unwrap();
    let err = auth
        .create_personal_token(&ada, "late", &asking)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, AuthError::InvalidToken), "{err:?}");
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM signins WHERE ended_at IS NULL")
            .await,
        0
    );
}

/// PostgreSQL: a password change in flight (its transaction holds the account's row) makes a
/// sign-in checked against the old password wait, and then not start.
#[tokio::test]
async fn on_postgres_a_sign_in_waits_for_a_password_change_in_flight_and_then_does_not_start() {
    let app = spawn_app().await;
    let Db::Postgres(pool) = app.state.auth.db().clone() else {
        eprintln!("SKIPPED on SQLite (one writer at a time: nothing can be in flight)");
        return;
    };
    app.create_user("ada@example.com").await;
    let auth = app.state.auth.clone();
    let verified = auth
        .check_password(
            "ada@example.com",
            PASSWORD.into(),
            &ClientMeta::default(),
            "test",
        )
        .await
        .unwrap();
    // A password change's transaction, holding the account's row.
    let mut change = pool.begin().await.unwrap();
    sqlx::query("UPDATE users SET password_hash = 'changed' WHERE id = $1")
        .bind(&verified.user.id)
        .execute(&mut *change)
        .await
        .unwrap();
    let login = {
        let (auth, user) = (auth.clone(), verified.user.clone());
        let meta = ClientMeta::default().authorised_by(verified.authority.clone());
        tokio::spawn(async move { auth.issue_opaque(&user, &meta).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !login.is_finished(),
        "the sign-in did not wait for the change"
    );
    change.commit().await.unwrap();
    let err = login.await.unwrap().err().unwrap();
    assert!(matches!(err, AuthError::InvalidCredentials), "{err:?}");
}
