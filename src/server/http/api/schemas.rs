//! The bodies of the JSON endpoints: what the handlers and the dialects' error envelopes serialize,
//! and so what the OpenAPI document (the handlers' `#[utoipa::path]` annotations) describes.

use serde::Serialize;
use utoipa::ToSchema;

/// `{"email","password"}` to sign in.
#[derive(ToSchema, Serialize)]
pub struct Credentials {
    /// Trimmed and compared without case.
    #[schema(min_length = 1)]
    pub email: String,
    #[schema(min_length = 1)]
    pub password: String,
}

/// `{"email","password"}` for a new account.
#[derive(ToSchema, Serialize)]
pub struct Registration {
    /// Trimmed and lower-cased; its domain must have a dot.
    #[schema(format = Email, min_length = 3, max_length = 254)]
    pub email: String,
    /// 8 to 1024 characters.
    #[schema(min_length = 8, max_length = 1024)]
    pub password: String,
}

/// An account, borrowed from the [`User`](crate::server::domain::User) it shows: `me` answers
/// from a principal held in memory, and copying its two strings into the answer was two
/// allocations per request on the API's most frequent call.
#[derive(ToSchema, Serialize)]
pub struct UserObject<'a> {
    /// UUID.
    pub id: &'a str,
    /// Normalised email.
    pub email: &'a str,
}

impl<'a> From<&'a crate::server::domain::User> for UserObject<'a> {
    fn from(user: &'a crate::server::domain::User) -> Self {
        Self {
            id: &user.id,
            email: &user.email,
        }
    }
}

/// `{}`
#[derive(ToSchema, Serialize)]
pub struct Empty {}

/// `{"user": …}`
#[derive(ToSchema, Serialize)]
pub struct UserData<'a> {
    /// The account.
    pub user: UserObject<'a>,
}

/// Seed 000 success: `{"data":{"user":…}}`
#[derive(ToSchema, Serialize)]
pub struct AccountUser<'a> {
    /// Payload.
    pub data: UserData<'a>,
}

/// The opaque token of a new sign-in.
#[derive(ToSchema, Serialize)]
pub struct TokenData<'a> {
    /// `so_at_…`, shown this once.
    pub token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// RFC 3339, 30 days ahead.
    pub expires_at: String,
    /// The account.
    pub user: UserObject<'a>,
}

/// Seed 000 login success.
#[derive(ToSchema, Serialize)]
pub struct AccountToken<'a> {
    /// Payload.
    pub data: TokenData<'a>,
}

/// `{"message": …}`
#[derive(ToSchema, Serialize)]
pub struct MessageData {
    /// `You have logged out.`
    pub message: String,
}

/// Seed 000 logout success.
#[derive(ToSchema, Serialize)]
pub struct AccountMessage {
    /// Payload.
    pub data: MessageData,
}

/// Seed 000 error body.
#[derive(ToSchema, Serialize)]
pub struct AccountErrorBody {
    /// What went wrong.
    pub message: String,
    /// The HTTP status, as an integer.
    pub code: u16,
}

/// Seed 000 error: `{"error":{"message","code"}}`
#[derive(ToSchema, Serialize)]
pub struct AccountError {
    /// Details.
    pub error: AccountErrorBody,
}

/// Seed 001's logout scopes.
#[derive(ToSchema, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogoutScope {
    /// This sign-in.
    Local,
    /// Every other sign-in of the user.
    Others,
    /// Every sign-in of the user.
    Global,
}

/// Seed 001 request body (optional). At most one of the two fields.
#[derive(ToSchema, Serialize)]
pub struct LogoutRequest {
    /// Which sign-ins to end; `local` when absent.
    #[schema(nullable = false)]
    pub scope: Option<LogoutScope>,
    /// End this one sign-in of the user instead.
    #[schema(nullable = false, min_length = 1, max_length = 100)]
    pub session_id: Option<String>,
}

/// `{"message": …}` (seed 001 success, and every seed 002 error).
#[derive(ToSchema, Serialize)]
pub struct Message {
    /// `Logged out successfully` (001), or the error (002).
    pub message: String,
}

/// Seed 001 error.
#[derive(ToSchema, Serialize)]
pub struct DescribedError {
    /// Short message.
    pub message: String,
    /// Longer description.
    pub description: String,
    /// `INVALID_INPUT`, `UNAUTHORIZED`, `FORBIDDEN`, `NOT_FOUND`, `CONFLICT`, `VALIDATION_ERROR`,
    /// and for the statuses the seed leaves out `METHOD_NOT_ALLOWED`, `PAYLOAD_TOO_LARGE`,
    /// `INTERNAL_ERROR`, `SERVICE_UNAVAILABLE`.
    pub code: String,
}

/// `{"refresh_token": …}`
#[derive(ToSchema, Serialize)]
pub struct RefreshRequest {
    /// A refresh JWT.
    #[schema(min_length = 1)]
    pub refresh_token: String,
}

/// A JWT pair.
#[derive(ToSchema, Serialize)]
pub struct PairData {
    /// Access JWT, 15 minutes.
    pub access_token: String,
    /// Refresh JWT, 30 days, usable once.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires (900).
    pub expires_in: i64,
}

/// Seed 004 success with a pair.
#[derive(ToSchema, Serialize)]
pub struct JwtPair {
    /// 200.
    pub code: u16,
    /// `login successful` or `refresh successful`.
    pub message: String,
    /// The pair.
    pub data: PairData,
}

/// Seed 004 answer with an empty `data` (logout success and every error but 400).
#[derive(ToSchema, Serialize)]
pub struct JwtPlain {
    /// The HTTP status.
    pub code: u16,
    /// `logout successful`, `invalid token`, …
    pub message: String,
    /// Nothing.
    pub data: Empty,
}

/// One failed field.
#[derive(ToSchema, Serialize)]
pub struct FieldError {
    /// The field.
    pub key: String,
    /// `required`.
    pub message: String,
    /// What was sent (`null` when missing).
    pub value: serde_json::Value,
}

/// Seed 004 validation details.
#[derive(ToSchema, Serialize)]
pub struct ValidationData {
    /// `validation_error`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The failed fields.
    pub errors: Vec<FieldError>,
}

/// Seed 004 400.
#[derive(ToSchema, Serialize)]
pub struct JwtValidation {
    /// 400.
    pub code: u16,
    /// `validation failed`.
    pub message: String,
    /// Details.
    pub data: ValidationData,
}

/// RFC 6749's error body.
#[derive(ToSchema, Serialize)]
pub struct OAuthError {
    /// `invalid_request`, `server_error` or `temporarily_unavailable`.
    pub error: String,
}
