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
];

/// Who may see the page at `path`; `None` for a path that is no page.
pub fn access(path: &str) -> Option<Access> {
    PAGES.iter().find(|p| p.path == path).map(|p| p.access)
}

/// Whether `path` is a page only signed-in users may see.
pub fn is_private(path: &str) -> bool {
    access(path) == Some(Access::SignedIn)
}

/// Why a sign-in ended, as the server records it, and what `/login?ended=<reason>` says about it.
/// Any other value is not shown.
pub const END_REASONS: &[(&str, &str)] = &[
    ("logout", "You have logged out."),
    ("logout_others", "You were signed out from another of your devices."),
    ("logout_global", "You were signed out everywhere."),
    ("password_changed", "Your password was changed, so you were signed out. Sign in with the new password."),
    ("idle", "You were signed out after a period of inactivity."),
    ("absolute", "Your sign-in reached its time limit. Sign in again to continue."),
    ("refresh_reuse", "You were signed out because one of your sign-in tokens was used twice, which can mean it was stolen."),
    ("revoked", "Your sign-in was revoked."),
    ("admin", "An administrator signed you out."),
    ("expired", "Your sign-in expired. Sign in again to continue."),
    ("superseded", "You signed in again in this browser."),
];

/// The sentence for end reason `reason`, if it is one.
pub fn end_reason_text(reason: &str) -> Option<&'static str> {
    END_REASONS
        .iter()
        .find(|(r, _)| *r == reason)
        .map(|(_, text)| *text)
}

/// Where a page goes when the server says its sign-in ended for `reason`. A plain logout (this
/// browser's, from another tab) lands where a logout always lands; other known reasons are
/// shown on `/login`; anything else counts as a plain logout.
pub fn login_after(reason: &str) -> String {
    let known = END_REASONS.iter().any(|(r, _)| *r == reason);
    if !known || reason == "logout" {
        "/login?logged_out=1".to_owned()
    } else {
        format!("/login?ended={reason}")
    }
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
