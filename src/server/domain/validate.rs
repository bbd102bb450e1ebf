//! Input rules for accounts: how emails are normalised and which passwords are accepted.

use super::model::InputError;

/// Passwords shorter than this are refused.
pub const PASSWORD_MIN: usize = 8;
/// Passwords longer than this are refused (argon2 would accept them, but they are a DoS lever).
pub const PASSWORD_MAX: usize = 1024;

/// Trims and lower-cases an email and checks its syntax (with the `email_address` crate).
pub fn normalize_email(raw: &str) -> Result<String, InputError> {
    let email = raw.trim().to_lowercase();
    if email.len() > 254 || !email_address::EmailAddress::is_valid(&email) {
        return Err(InputError::InvalidEmail);
    }
    // A bare host ("a@localhost") is valid by RFC 5322 but is never a deliverable address here.
    let domain = email.rsplit('@').next().unwrap_or_default();
    if !domain.contains('.') || domain.starts_with('[') {
        return Err(InputError::InvalidEmail);
    }
    Ok(email)
}

/// Checks a password's length in characters (not bytes).
pub fn check_password(password: &str) -> Result<(), InputError> {
    let n = password.chars().count();
    if n < PASSWORD_MIN {
        Err(InputError::PasswordTooShort)
    } else if n > PASSWORD_MAX {
        Err(InputError::PasswordTooLong)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        assert_eq!(
            normalize_email("  Ada@Example.COM ").unwrap(),
            "ada@example.com"
        );
    }

    #[test]
    fn malformed_emails_are_refused() {
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@localhost",
            "a b@example.com",
            "ada@@example.com",
        ] {
            assert_eq!(
                normalize_email(bad),
                Err(InputError::InvalidEmail),
                "{bad:?}"
            );
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(normalize_email(&long), Err(InputError::InvalidEmail));
    }

    #[test]
    fn passwords_are_counted_in_characters() {
        assert_eq!(check_password("1234567"), Err(InputError::PasswordTooShort));
        assert_eq!(check_password("12345678"), Ok(()));
        assert_eq!(check_password("ééééééé"), Err(InputError::PasswordTooShort)); // 14 bytes, 7 chars
        assert_eq!(check_password(&"x".repeat(1024)), Ok(()));
        assert_eq!(
            check_password(&"x".repeat(1025)),
            Err(InputError::PasswordTooLong)
        );
    }
}
