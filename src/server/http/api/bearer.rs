//! Who a bearer-authenticated JSON request comes from, as an extractor a handler takes
//! ([`Bearer`]): the token is read the dialect's way ([`Dialect::token`]), and any problem with it
//! is answered in the dialect's envelope.
//!
//! ```ignore
//! async fn me(Bearer { who, .. }: Bearer<Account, Arc<Principal>>) -> Reply<Account> { … }
//! async fn logout(State(state): State<AppState>, Bearer { who, .. }: Bearer<V1, Caller>) -> Reply<V1> { … }
//! ```

use std::{future::Future, marker::PhantomData, sync::Arc};

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;

use super::{ApiError, Dialect, Failure};
use crate::server::{
    domain::{AuthError, Caller, Principal},
    AppState,
};

/// What a handler takes of a bearer token. Any problem with the credential is
/// [`AuthError::InvalidToken`] (401) or the storage's error.
pub trait FromToken: Sized + Send {
    /// What `token` stands for.
    fn from_token(
        state: &AppState,
        token: &str,
    ) -> impl Future<Output = Result<Self, AuthError>> + Send;
}

/// The principal, authenticated and its use recorded (reads: `me`).
impl FromToken for Arc<Principal> {
    async fn from_token(state: &AppState, token: &str) -> Result<Self, AuthError> {
        state.auth.resolve(token).await
    }
}

/// The caller of a logout, without a database read: whether the credential is still valid is
/// checked inside the logout's own transaction.
impl FromToken for Caller {
    async fn from_token(state: &AppState, token: &str) -> Result<Self, AuthError> {
        state.auth.caller_for_token(token)
    }
}

/// A bearer-authenticated request's `who` (a [`FromToken`]), read in dialect `D`. No token at all
/// is 401 (a handler taking `Option<Bearer<…>>` answers that case itself); so is one that is
/// malformed, unknown, expired or revoked.
pub struct Bearer<D, T> {
    /// What the token stands for.
    pub who: T,
    dialect: PhantomData<D>,
}

impl<D: Dialect, T: FromToken> OptionalFromRequestParts<AppState> for Bearer<D, T> {
    type Rejection = Failure<D>;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        let Some(token) = D::token(parts)? else {
            return Ok(None);
        };
        let who = T::from_token(state, &token).await?;
        Ok(Some(Self {
            who,
            dialect: PhantomData,
        }))
    }
}

impl<D: Dialect, T: FromToken> FromRequestParts<AppState> for Bearer<D, T> {
    type Rejection = Failure<D>;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        <Self as OptionalFromRequestParts<AppState>>::from_request_parts(parts, state)
            .await?
            .ok_or_else(|| ApiError::Unauthorized.into())
    }
}
