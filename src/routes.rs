//! Every page's path and who may see it: the one table that the page guard (server), the navigation
//! bar, tab sync and the idle warning (browser) read. The router in [`crate::pages`] declares the same
//! paths with `path!` (a macro that needs literals); a test there checks that the two agree.

/// Who may see a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Signed-in users only: others are sent to `/login`.
    SignedIn,
    /// Signed-out visitors only: signed-in users are sent home.
    SignedOut,
    /// Anyone.
    Anyone,
}

/// One page of the app.
#[derive(Clone, Copy, Debug)]
pub struct Page {
    pub path: &'static str,
    pub access: Access,
    /// Its label in the navigation bar, if it has a place there.
    pub nav: Option<&'static str>,
}

pub const HOME: &str = "/";
pub const SESSIONS: &str = "/sessions";
pub const TOKENS: &str = "/tokens";
pub const PASSWORD: &str = "/account/password";
pub const API_REFERENCE: &str = "/docs/api";
pub const LOGIN: &str = "/login";
pub const REGISTER: &str = "/register";
/// An application's logout request that asks first (RP-Initiated Logout).
pub const LOGOUT: &str = "/logout";
/// An application's sign-in request that cannot go back to it.
pub const AUTHORIZE_ERROR: &str = "/authorize/error";

/// Every page, in navigation order.
pub const PAGES: &[Page] = &[
    Page {
        path: HOME,
        access: Access::SignedIn,
        nav: Some("Home"),
    },
    Page {
        path: SESSIONS,
        access: Access::SignedIn,
        nav: Some("Sessions"),
    },
    Page {
        path: TOKENS,
        access: Access::SignedIn,
        nav: Some("Tokens"),
    },
    Page {
        path: PASSWORD,
        access: Access::SignedIn,
        nav: Some("Password"),
    },
    Page {
        path: API_REFERENCE,
        access: Access::Anyone,
        nav: Some("API reference"),
    },
    Page {
        path: LOGIN,
        access: Access::SignedOut,
        nav: None,
    },
    Page {
        path: REGISTER,
        access: Access::SignedOut,
        nav: None,
    },
    Page {
        path: LOGOUT,
        access: Access::Anyone,
        nav: None,
    },
    Page {
        path: AUTHORIZE_ERROR,
        access: Access::Anyone,
        nav: None,
    },
];

/// Who may see the page at `path`; `None` for a path that is no page.
pub fn access(path: &str) -> Option<Access> {
    PAGES.iter().find(|p| p.path == path).map(|p| p.access)
}

/// Whether `path` is a page only signed-in users may see.
pub fn is_private(path: &str) -> bool {
    access(path) == Some(Access::SignedIn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_signed_out_pages() {
        for path in [HOME, SESSIONS, TOKENS, PASSWORD] {
            assert!(is_private(path), "{path}");
        }
        for path in [API_REFERENCE, LOGIN, REGISTER, "/nope", "/tokens/"] {
            assert!(!is_private(path), "{path}");
        }
        assert_eq!(access(LOGIN), Some(Access::SignedOut));
        assert_eq!(access(REGISTER), Some(Access::SignedOut));
    }
}
