//! Why a sign-in ends: the one list, compiled for the server (which stores and sends the wire name)
//! and the browser (which shows the sentence on `/login?ended=<reason>` and follows other tabs).

/// Why a sign-in ended; stored with it, sent on the wire (`/events`, webhooks) by [`EndReason::as_str`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// The user logged out of this sign-in.
    Logout,
    /// The same browser signed in again; the old sign-in was replaced.
    Superseded,
    /// Another sign-in of the user asked to end all others.
    LogoutOthers,
    /// The user logged out everywhere.
    LogoutGlobal,
    /// A rotated refresh token was presented again.
    RefreshReuse,
    /// The user revoked a personal token.
    Revoked,
    /// The user changed the password and chose to end the other sign-ins.
    PasswordChanged,
    /// Nothing of it could be used any more (ended by the pruner).
    Expired,
    /// An operator ended it (`signoff sessions end`).
    Admin,
    /// Unused for longer than the idle lifetime (`SIGNOFF_SESSION_IDLE_SECS`).
    Idle,
    /// Older than the absolute lifetime (`SIGNOFF_SESSION_ABSOLUTE_SECS`): sign in again.
    Absolute,
    /// Evicted, least recently used first, by a new sign-in over `SIGNOFF_MAX_SIGNINS_PER_USER`.
    Limit,
    /// An application signed the person out of Signoff (OpenID Connect RP-Initiated Logout).
    RpLogout,
}

impl EndReason {
    /// Every reason, in the order `/login` lists them.
    pub const ALL: [EndReason; 13] = [
        Self::Logout,
        Self::LogoutOthers,
        Self::LogoutGlobal,
        Self::PasswordChanged,
        Self::Idle,
        Self::Absolute,
        Self::RefreshReuse,
        Self::Revoked,
        Self::Admin,
        Self::Expired,
        Self::Superseded,
        Self::Limit,
        Self::RpLogout,
    ];

    /// The reason's wire name, as stored with the sign-in.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::Superseded => "superseded",
            Self::LogoutOthers => "logout_others",
            Self::LogoutGlobal => "logout_global",
            Self::RefreshReuse => "refresh_reuse",
            Self::Revoked => "revoked",
            Self::PasswordChanged => "password_changed",
            Self::Expired => "expired",
            Self::Admin => "admin",
            Self::Idle => "idle",
            Self::Absolute => "absolute",
            Self::Limit => "limit",
            Self::RpLogout => "rp_logout",
        }
    }

    /// What `/login?ended=<reason>` says to the person whose sign-in ended.
    pub const fn text(self) -> &'static str {
        match self {
            Self::Logout => "You have logged out.",
            Self::LogoutOthers => "You were signed out from another of your devices.",
            Self::LogoutGlobal => "You were signed out everywhere.",
            Self::PasswordChanged => {
                "Your password was changed, so you were signed out. Sign in with the new password."
            }
            Self::Idle => "You were signed out after a period of inactivity.",
            Self::Absolute => "Your sign-in reached its time limit. Sign in again to continue.",
            Self::RefreshReuse => {
                "You were signed out because one of your sign-in tokens was used twice, which can mean it was stolen."
            }
            Self::Revoked => "Your sign-in was revoked.",
            Self::Admin => "An administrator signed you out.",
            Self::Expired => "Your sign-in expired. Sign in again to continue.",
            Self::Superseded => "You signed in again in this browser.",
            Self::Limit => {
                "You were signed out because your account signed in on more devices than it may use at once."
            }
            Self::RpLogout => "You have logged out.",
        }
    }

    /// The reason whose wire name is `s`, if it is one.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Where a page goes when the server says its sign-in ended for `reason` (a wire name). A
    /// plain logout (this browser's, from another tab) lands where a logout always lands; other
    /// known reasons are shown on `/login`; anything else counts as a plain logout.
    pub fn login_after(reason: &str) -> String {
        match Self::parse(reason) {
            None | Some(Self::Logout | Self::RpLogout) => "/login?logged_out=1".to_owned(),
            Some(known) => format!("/login?ended={}", known.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_one_wire_name_and_a_sentence() {
        let mut names: Vec<&str> = EndReason::ALL.iter().map(|r| r.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), EndReason::ALL.len());
        for reason in EndReason::ALL {
            assert_eq!(EndReason::parse(reason.as_str()), Some(reason));
            assert!(reason.text().ends_with('.'), "{reason:?}");
        }
        assert_eq!(EndReason::parse("nope"), None);
    }

    #[test]
    fn a_logout_lands_on_the_logged_out_page_and_other_reasons_are_named() {
        assert_eq!(EndReason::login_after("logout"), "/login?logged_out=1");
        assert_eq!(EndReason::login_after("<script>"), "/login?logged_out=1");
        assert_eq!(EndReason::login_after("idle"), "/login?ended=idle");
    }
}
