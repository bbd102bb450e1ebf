//! Throttling of password checks: per account and per client address, with exponential back-off,
//! in the database so that every instance sees the same counts.
//!
//! Each key (`account:<normalised email>`, `ip:<address>`, an IPv6 address by its /64) counts failed checks in windows of
//! [`WINDOW_SECS`] from the window's first failure. Past its free allowance ([`ACCOUNT_FREE`] for an
//! account, [`IP_FREE`] for an address) every further failure locks the key for 1, 2, 4 …
//! seconds, at most [`MAX_LOCK_SECS`] for an account and [`MAX_IP_LOCK_SECS`] for an address (many
//! people can share one: an office, a carrier's NAT; a long lock would shut them all out). A locked
//! key is refused before any hashing ([`AuthError::Throttled`], 429 with `Retry-After`), the right
//! password included. A success clears the account's count; an address's count only ages out, so
//! that signing into one's own account cannot reset a spray across others.
//!
//! A loopback peer is not counted as an address: it is a reverse proxy on the same host (every
//! client would share its key) or a local tool. Behind a proxy, accounts are still throttled.
//!
//! Not `governor`/`tower_governor`: their state is per process, and a client spreading its tries
//! over several instances must meet one count. The hashing itself is bounded in `password.rs`.

use super::model::{AuthError, ClientMeta, Result};
use crate::{
    server::db::{now, Db},
    with_pool,
};

/// Failures of one account allowed before back-off.
pub const ACCOUNT_FREE: i64 = 5;
/// Failures from one address allowed per window before back-off (many accounts may share it).
pub const IP_FREE: i64 = 100;
/// How long a window of counted failures lasts, from its first failure.
pub const WINDOW_SECS: i64 = 15 * 60;
/// The longest lock of an account.
pub const MAX_LOCK_SECS: i64 = 15 * 60;
/// The longest lock of an address.
pub const MAX_IP_LOCK_SECS: i64 = 60;

/// The keys a check from `meta` for `email` counts against.
pub(super) fn keys(email: &str, meta: &ClientMeta) -> Vec<String> {
    let account = super::validate::normalize_email(email)
        .unwrap_or_else(|_| email.trim().to_lowercase().chars().take(320).collect());
    let mut keys = vec![format!("account:{account}")];
    let loopback = |ip: &str| {
        ip.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
    };
    if let Some(ip) = meta.ip.as_deref().filter(|ip| !loopback(ip)) {
        keys.push(format!("ip:{}", address_key(ip)));
    }
    keys
}

/// An address as a throttle key: IPv6 by its /64 (one subscriber's whole allocation, which it can
/// walk through at will), IPv4 as it is.
fn address_key(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>().map(|ip| ip.to_canonical()) {
        Ok(std::net::IpAddr::V6(v6)) => {
            let prefix = std::net::Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1));
            format!("{prefix}/64")
        }
        Ok(v4) => v4.to_string(),
        Err(_) => ip.to_owned(),
    }
}

/// Seconds to lock after the `failures`-th failure of a key allowed `free` ones (0: no lock).
pub fn lock_secs(failures: i64, free: i64) -> i64 {
    if failures <= free {
        0
    } else {
        (1i64 << (failures - free - 1).clamp(0, 20)).min(MAX_LOCK_SECS)
    }
}

/// The lock after the `failures`-th failure of `key`.
fn lock_for(key: &str, failures: i64) -> i64 {
    if key.starts_with("ip:") {
        lock_secs(failures, IP_FREE).min(MAX_IP_LOCK_SECS)
    } else {
        lock_secs(failures, ACCOUNT_FREE)
    }
}

/// Refuses when any of `keys` is locked now.
pub(super) async fn check(db: &Db, keys: &[String]) -> Result<()> {
    let at = now();
    for key in keys {
        let locked: Option<i64> = with_pool!(db, p => sqlx::query_scalar(
            "SELECT locked_until FROM login_throttle WHERE key = $1")
            .bind(key).fetch_optional(p).await)?;
        if let Some(until) = locked.filter(|u| *u > at) {
            return Err(AuthError::Throttled(until - at));
        }
    }
    Ok(())
}

/// Counts a failed check against every key (and locks those past their allowance).
pub(super) async fn failed(db: &Db, keys: &[String]) -> Result<()> {
    let at = now();
    for key in keys {
        let failures: i64 = with_pool!(db, p => sqlx::query_scalar(
            "INSERT INTO login_throttle (key, failures, locked_until, window_start) VALUES ($1, 1, 0, $2) \
             ON CONFLICT (key) DO UPDATE SET \
               failures = CASE WHEN login_throttle.window_start < $3 THEN 1 ELSE login_throttle.failures + 1 END, \
               window_start = CASE WHEN login_throttle.window_start < $3 THEN $2 ELSE login_throttle.window_start END \
             RETURNING failures")
            .bind(key).bind(at).bind(at - WINDOW_SECS).fetch_one(p).await)?;
        let lock = lock_for(key, failures);
        if lock > 0 {
            with_pool!(db, p => sqlx::query(
                "UPDATE login_throttle SET locked_until = $1 WHERE key = $2")
                .bind(at + lock).bind(key).execute(p).await.map(|_| ()))?;
        }
    }
    Ok(())
}

/// A successful check clears the account's count.
pub(super) async fn succeeded(db: &Db, keys: &[String]) -> Result<()> {
    if let Some(account) = keys.iter().find(|k| k.starts_with("account:")) {
        with_pool!(db, p => sqlx::query("DELETE FROM login_throttle WHERE key = $1")
            .bind(account).execute(p).await.map(|_| ()))?;
    }
    Ok(())
}

/// Deletes counts that aged out (the pruner).
pub(super) async fn prune(db: &Db) -> Result<u64> {
    let at = now();
    Ok(with_pool!(db, p => sqlx::query(
        "DELETE FROM login_throttle WHERE window_start < $1 AND locked_until < $2")
        .bind(at - WINDOW_SECS).bind(at).execute(p).await.map(|r| r.rows_affected()))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_starts_after_the_allowance_and_doubles_up_to_fifteen_minutes() {
        assert_eq!(
            (1..=9).map(|n| lock_secs(n, 5)).collect::<Vec<_>>(),
            vec![0, 0, 0, 0, 0, 1, 2, 4, 8]
        );
        assert_eq!(lock_secs(60, 5), MAX_LOCK_SECS);
    }

    #[test]
    fn an_account_is_one_key_whatever_the_case_and_the_address_another() {
        let meta = ClientMeta {
            user_agent: None,
            ip: Some("10.0.0.1".into()),
        };
        assert_eq!(
            keys(" Ada@Example.com", &meta),
            vec![
                "account:ada@example.com".to_owned(),
                "ip:10.0.0.1".to_owned()
            ]
        );
        let local = ClientMeta {
            user_agent: None,
            ip: Some("127.0.0.1".into()),
        };
        assert_eq!(
            keys("ada@example.com", &local),
            vec!["account:ada@example.com".to_owned()]
        );
        let v6 = |ip: &str| {
            keys(
                "ada@example.com",
                &ClientMeta {
                    user_agent: None,
                    ip: Some(ip.into()),
                },
            )[1]
            .clone()
        };
        assert_eq!(v6("2001:db8:1:2:aaaa::1"), "ip:2001:db8:1:2::/64");
        assert_eq!(v6("2001:db8:1:2:bbbb::9"), "ip:2001:db8:1:2::/64");
        assert_eq!(v6("::ffff:10.0.0.1"), "ip:10.0.0.1");
        assert_eq!(lock_for("ip:10.0.0.1", 500), MAX_IP_LOCK_SECS);
        assert_eq!(lock_for("account:a@b.c", 500), MAX_LOCK_SECS);
    }
}
