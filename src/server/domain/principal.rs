//! Who an authenticated request comes from. A leaf: every kind of credential resolves to this.

use super::{logout::Caller, model::User};

/// Bearer tokens longer than this are refused unread.
pub const MAX_TOKEN_LEN: usize = 4096;

/// How a request was authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Via {
    /// An opaque token.
    Opaque,
    /// A JWT access token.
    Jwt {
        /// Its id.
        jti: String,
    },
    /// A browser session cookie.
    Session,
}

/// The authenticated caller of an API request.
#[derive(Clone, Debug)]
pub struct Principal {
    /// Whose credential it is.
    pub user: User,
    /// The sign-in the credential belongs to.
    pub signin_id: String,
    /// Which kind of credential it was.
    pub via: Via,
}

impl From<&Principal> for Caller {
    /// A principal was authenticated already: its sign-in is checked again, inside the ending.
    fn from(who: &Principal) -> Self {
        Caller::Signin(who.signin_id.clone())
    }
}
