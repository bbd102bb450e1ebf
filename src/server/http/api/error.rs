//! What went wrong in a JSON request, before any dialect shapes it.

use http::StatusCode;

use crate::server::domain::AuthError;

/// What went wrong, independent of any dialect. Each variant's doc says its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// 400: the body is not the JSON the endpoint takes.
    BadRequest,
    /// 401: credential missing, malformed, unknown, expired or revoked.
    Unauthorized,
    /// 401: wrong email or password at login (never says which).
    InvalidCredentials,
    /// 400 (seed 004): a body field is missing, of the wrong type, or empty.
    InvalidField {
        /// The field's name.
        key: &'static str,
        /// What was sent in its place (`null` when missing); never a token's text.
        value: serde_json::Value,
    },
    /// 403: not allowed (a cross-site request with a cookie).
    Forbidden,
    /// 404: no such endpoint or resource.
    NotFound,
    /// 405: the path exists, the method does not (`Allow` is kept from axum's answer).
    MethodNotAllowed,
    /// 409: the resource exists already or is in the wrong state.
    Conflict(String),
    /// 413: the body is over [`BODY_LIMIT`].
    PayloadTooLarge,
    /// 415: a body sent with a `Content-Type` other than `application/json`.
    UnsupportedMediaType,
    /// 429: too many attempts; retry after this many seconds (`Retry-After`).
    TooManyRequests(i64),
    /// 422: the input is well-formed but invalid; the text says what to fix.
    Validation(String),
    /// 500: a bug; details are in the log, never in the answer.
    Internal,
    /// 503: the database cannot be reached (`Retry-After` is set).
    Unavailable,
}

impl ApiError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest | Self::InvalidField { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized | Self::InvalidCredentials => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The error a bare status (from axum or tower) stands for.
    pub(super) fn from_status(status: StatusCode) -> Self {
        match status {
            StatusCode::BAD_REQUEST => Self::BadRequest,
            StatusCode::UNAUTHORIZED => Self::Unauthorized,
            StatusCode::FORBIDDEN => Self::Forbidden,
            StatusCode::NOT_FOUND => Self::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => Self::MethodNotAllowed,
            StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge,
            StatusCode::UNPROCESSABLE_ENTITY => Self::Validation("Failed validation.".into()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::UnsupportedMediaType,
            StatusCode::TOO_MANY_REQUESTS => Self::TooManyRequests(1),
            StatusCode::SERVICE_UNAVAILABLE => Self::Unavailable,
            _ => Self::Internal,
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Input(e) => Self::Validation(e.to_string()),
            AuthError::EmailTaken => Self::Conflict(err.to_string()),
            AuthError::InvalidCredentials => Self::InvalidCredentials,
            AuthError::InvalidToken => Self::Unauthorized,
            AuthError::NotFound => Self::NotFound,
            AuthError::AlreadyEnded => Self::Conflict("The sign-in has already ended.".into()),
            AuthError::Throttled(secs) => Self::TooManyRequests(secs),
            AuthError::Unavailable(e) => {
                tracing::error!(error = %e, "database unavailable");
                Self::Unavailable
            }
            AuthError::Internal(e) => {
                tracing::error!(error = %e, "unexpected error");
                Self::Internal
            }
        }
    }
}
