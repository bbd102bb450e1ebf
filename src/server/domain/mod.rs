//! The domain: accounts, sign-ins and logout, with no HTTP in it.
//!
//! A *sign-in* is one login on one device. Every credential (a browser session, an opaque token, a
//! JWT pair, a personal token) belongs to one sign-in, and every ending of a sign-in, from any page,
//! API, scope, password change, reuse detection or pruning, goes through the logout engine in
//! [`logout`]: one transaction per request, committed in groups, after which the sign-in and every
//! credential of it are refused everywhere.
//!
//! This file is the face: the rooms, and the names the rest of the server uses. [`model`] holds
//! the domain's words (a leaf: every other room shares them from there). [`Auth`] ([`auth`]) is
//! the one entry point; each room adds its part to it: [`account`] (accounts, password checks,
//! what `/sessions` reads), [`signins`] (the sign-in lifecycle), the credentials ([`tokens`] for
//! any bearer token, [`opaque`] with its [`cache`], [`jwt`] with its [`keys`], [`principal`], their
//! lifetimes in [`ttl`]), and [`prune`]. Below `Auth`, knowing nothing of it: [`logout`] (the
//! engine), [`revocations`] (the denylist, the cross-instance protocol, the pages watching a
//! sign-in), [`outbox`] (webhook events), [`password`], [`throttle`] and [`validate`].
//!
//! ```ignore
//! let auth = Auth::init(db, Options::default()).await?;
//! let user = auth.register("ada@example.com", "correct horse".into()).await?;
//! let user = auth.authenticate("ADA@example.com ", "correct horse".into()).await?;
//! let signin = auth.start_signin(&user, SigninKind::Browser, &ClientMeta::default(), "sign-in page").await?;
//! auth.logout(Caller::Signin(signin.id.clone()), Scope::Local, "Log out button").await?;
//! assert!(auth.active_signin(&signin.id).await?.is_none());
//! ```

pub mod account;
pub mod auth;
pub mod cache;
pub mod jwt;
pub mod keys;
pub mod logout;
pub mod model;
pub mod oidc;
pub mod opaque;
pub mod outbox;
pub mod password;
pub mod principal;
pub mod prune;
pub mod revocations;
pub mod signins;
pub mod throttle;
pub mod tokens;
pub mod trace;
pub mod ttl;
pub mod validate;

pub use account::{AuditEvent, SigninInfo};
pub use auth::Auth;
pub use jwt::JwtPair;
pub use logout::{Caller, Ended, EndedSignin, Ending, Scope};
pub use model::{
    AuditKind, AuthError, Authority, ClientMeta, EndReason, ExpiredSessions, InputError, Lifetime,
    Options, Readiness, Result, Role, Signin, SigninKind, SigninStatus, User, Verified,
};
pub use opaque::{IssuedToken, PersonalToken};
pub use principal::{Principal, Via};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::domain::auth::testing::{auth, user, PASSWORD};

    #[tokio::test]
    async fn register_then_authenticate_ignoring_case_and_spaces() {
        let auth = auth().await;
        let ada = user(&auth, "Ada@Example.com").await;
        assert_eq!(ada.email, "ada@example.com");
        let again = auth
            .authenticate("  ADA@example.com ", PASSWORD.into())
            .await
            .unwrap();
        assert_eq!(again, ada);
    }

    /// A service where ada@example.com has an account.
    async fn with_ada() -> Auth {
        let auth = auth().await;
        user(&auth, "ada@example.com").await;
        auth
    }

    #[tokio::test]
    async fn the_same_email_cannot_register_twice() {
        let auth = with_ada().await;
        let again = auth.register("ADA@example.com", "other horse".into());
        let err = again.await.unwrap_err();
        assert!(matches!(err, AuthError::EmailTaken), "{err:?}");
    }

    #[tokio::test]
    async fn unknown_email_and_wrong_password_are_the_same_error() {
        let auth = with_ada().await;
        let a = auth
            .authenticate("bob@example.com", "correct horse".into())
            .await
            .unwrap_err();
        let b = auth
            .authenticate("ada@example.com", "wrong horse!".into())
            .await
            .unwrap_err();
        assert_eq!(a.to_string(), b.to_string());
        assert!(matches!(a, AuthError::InvalidCredentials));
    }

    #[tokio::test]
    async fn an_ended_signin_is_no_longer_active_and_ends_once() {
        let auth = auth().await;
        let ada = user(&auth, "ada@example.com").await;
        let s = auth
            .start_signin(&ada, SigninKind::Browser, &ClientMeta::default(), "test")
            .await
            .unwrap();
        assert_eq!(auth.active_signin(&s.id).await.unwrap().unwrap().0, ada);
        let caller = || Caller::Signin(s.id.clone());
        let ended = auth.logout(caller(), Scope::Local, "test").await.unwrap();
        assert_eq!(ended.signins.len(), 1);
        assert!(matches!(
            auth.logout(caller(), Scope::Local, "test").await,
            Err(AuthError::InvalidToken)
        ));
        assert!(auth.active_signin(&s.id).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn an_address_spraying_many_accounts_is_throttled_and_others_are_not() {
        let auth = auth().await;
        let from = |ip: &str| ClientMeta {
            ip: Some(ip.into()),
            ..Default::default()
        };
        let sprayer = from("203.0.113.9");
        for n in 0..throttle::ADDRESS.free {
            let email = format!("victim{n}@example.com");
            let err = auth
                .check_password(&email, "guess".into(), &sprayer, "test")
                .await
                .unwrap_err();
            assert!(matches!(err, AuthError::InvalidCredentials), "{n}: {err:?}");
        }
        // One more failure locks the address; then it is refused before any hashing.
        let _ = auth
            .check_password("one-more@example.com", "guess".into(), &sprayer, "test")
            .await;
        let err = auth
            .check_password("fresh@example.com", "guess".into(), &sprayer, "test")
            .await
            .unwrap_err();
        assert!(matches!(err, AuthError::Throttled(s) if s >= 1), "{err:?}");
        // Another address, and a loopback peer (a proxy), are not.
        for other in [from("198.51.100.7"), from("127.0.0.1")] {
            let err = auth
                .check_password("fresh@example.com", "guess".into(), &other, "test")
                .await
                .unwrap_err();
            assert!(matches!(err, AuthError::InvalidCredentials), "{err:?}");
        }
    }
}
