//! Throttling of password checks and registrations, after OWASP's guidance (Authentication Cheat
//! Sheet: "Login Throttling"; Slow Down Online Guessing Attacks with Device Cookies): it slows an
//! attacker and no one else. Kept in the database, so that every instance meets the same counts.
//!
//! **What is counted.** A password check counts against its (account, address) pair and against
//! the address; a browser that signed in to that account before (its device cookie,
//! [`Auth::trusted_device`](super::auth::Auth)) counts against that device alone instead. So
//! failures from one address never refuse the right password from another address, nor from a
//! trusted browser, and lock-out is no denial of service. A registration counts against its
//! address. IPv6 addresses are counted by their /64 (one subscriber's allocation); a loopback peer
//! is no address (a local tool or a proxy on the host: set `SIGNOFF_TRUSTED_PROXIES`), only its
//! pairs are counted.
//!
//! **Counted first, atomically.** An attempt is admitted only once it is counted
//! ([`admit`]): each key's row is read and rewritten with a compare-and-swap on every column it
//! read, retried when another attempt got there first. Parallel guesses therefore queue on the
//! count: once it is past the allowance, the next is refused until the back-off has passed, however
//! many arrive at once. A success then takes its attempt back ([`succeeded`]): a pair's and a
//! device's count are cleared, an address's lowered by one (a success at one account cannot
//! reset a spray across others).
//!
//! **Back-off that carries over.** Past a key's allowance each admitted attempt locks the key for
//! 1, 2, 4, … seconds (up to the rule's longest lock). Counts are not reset by windows: each key
//! forgives one attempt per [`Rule::forgive_secs`] of time (a leaky bucket), so an attacker who
//! waits out a lock meets the longer lock that follows, while a person's occasional typo is
//! forgotten.
//!
//! A locked key is refused before any hashing ([`AuthError::Throttled`], 429 with `Retry-After`).
//! Not `governor`/`tower_governor`: their state is per process, and a client spreading its tries
//! over several instances must meet one count. The hashing itself is bounded in `password.rs`.

use super::model::{AuthError, ClientMeta, Result};
use crate::{
    server::db::{now, Db},
    with_pool,
};

/// How one kind of key is throttled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Attempts admitted without back-off (when none is forgiven yet).
    pub free: i64,
    /// One counted attempt is forgiven per this many seconds.
    pub forgive_secs: i64,
    /// The longest lock.
    pub max_lock: i64,
}

/// An (account, address) pair, and a trusted device: five tries, then 1 s, 2 s, … up to 15
/// minutes; one forgiven every 3 minutes (20 an hour).
pub const PAIR: Rule = Rule {
    free: 5,
    forgive_secs: 180,
    max_lock: 15 * 60,
};
/// An address, whatever the account: many people may share it (an office, a carrier's NAT), so a
/// large allowance (100 per 15 minutes) and short locks.
pub const ADDRESS: Rule = Rule {
    free: 100,
    forgive_secs: 9,
    max_lock: 60,
};
/// Registrations from one address: ten, then back-off up to an hour; ten an hour after that.
pub const REGISTER: Rule = Rule {
    free: 10,
    forgive_secs: 360,
    max_lock: 60 * 60,
};

/// Rows untouched this long are deleted by the pruner (every rule has forgiven them by then).
pub const FORGET_SECS: i64 = 24 * 60 * 60;

/// The rule of `key`, by its prefix.
fn rule(key: &str) -> Rule {
    if key.starts_with("ip:") {
        ADDRESS
    } else if key.starts_with("register:") {
        REGISTER
    } else {
        PAIR
    }
}

/// An account as counted: its normalised email (anything else trimmed, lower-cased and cut short).
fn account(email: &str) -> String {
    super::validate::normalize_email(email)
        .unwrap_or_else(|_| email.trim().to_lowercase().chars().take(320).collect())
}

/// The counted address of `meta`: `None` for a loopback peer or none.
fn address(meta: &ClientMeta) -> Option<String> {
    let ip = meta.ip.as_deref()?;
    let parsed = ip.parse::<std::net::IpAddr>().map(|ip| ip.to_canonical());
    if parsed.as_ref().is_ok_and(|ip| ip.is_loopback()) {
        return None;
    }
    Some(match parsed {
        // By its /64: one subscriber's whole allocation, which it can walk through at will.
        Ok(std::net::IpAddr::V6(v6)) => {
            let prefix = std::net::Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1));
            format!("{prefix}/64")
        }
        Ok(v4) => v4.to_string(),
        Err(_) => ip.to_owned(),
    })
}

/// The keys a password check for `email` from `meta` counts against: the trusted device's alone
/// (`device`: the digest of its cookie, already matched to the account), else the (account,
/// address) pair and the address.
pub(super) fn login_keys(email: &str, meta: &ClientMeta, device: Option<&str>) -> Vec<String> {
    if let Some(device) = device {
        return vec![format!("device:{device}")];
    }
    let address = address(meta);
    let mut keys = vec![format!(
        "pair:{}|{}",
        account(email),
        address.as_deref().unwrap_or("local")
    )];
    if let Some(address) = address {
        keys.push(format!("ip:{address}"));
    }
    keys
}

/// The keys a registration from `meta` counts against (none from loopback).
pub(super) fn register_keys(meta: &ClientMeta) -> Vec<String> {
    address(meta)
        .map(|a| vec![format!("register:{a}")])
        .unwrap_or_default()
}

/// Seconds to lock after the `attempts`-th counted attempt of a key allowed `free` (0: no lock).
pub fn lock_secs(attempts: i64, free: i64) -> i64 {
    if attempts <= free {
        0
    } else {
        1i64 << (attempts - free - 1).clamp(0, 20)
    }
}

/// A key's stored state: attempts counted, locked until, and when it last counted one.
pub type Row = (i64, i64, i64);

/// What to do with one attempt against a key in state `row` at `at`.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Refused: the key is locked for this many more seconds (nothing counted).
    Refuse(i64),
    /// Admitted: the key's new state.
    Admit(Row),
}

/// The decision for one attempt (pure: the rules above, without the database).
pub fn decide(row: Option<Row>, at: i64, rule: Rule) -> Decision {
    let (attempts, locked_until, last_at) = row.unwrap_or((0, 0, at));
    if locked_until > at {
        return Decision::Refuse(locked_until - at);
    }
    let forgiven = (at - last_at).max(0) / rule.forgive_secs;
    let counted = (attempts - forgiven).max(0) + 1;
    let lock = lock_secs(counted, rule.free).min(rule.max_lock);
    Decision::Admit((counted, if lock > 0 { at + lock } else { 0 }, at))
}

/// Counts an attempt against every key, and admits it only if none is locked (refused:
/// [`AuthError::Throttled`] with the seconds to wait). Atomic per key: see the module's notes.
pub(super) async fn admit(db: &Db, keys: &[String]) -> Result<()> {
    for key in keys {
        admit_one(db, key).await?;
    }
    Ok(())
}

async fn admit_one(db: &Db, key: &str) -> Result<()> {
    // Each round loses only to another attempt that was counted meanwhile; a handful is plenty.
    for _ in 0..16 {
        let at = now();
        let row: Option<Row> = with_pool!(db, p => sqlx::query_as(
            "SELECT failures, locked_until, window_start FROM login_throttle WHERE key = $1")
            .bind(key).fetch_optional(p).await)?;
        let (attempts, locked_until, last_at) = match decide(row, at, rule(key)) {
            Decision::Refuse(secs) => return Err(AuthError::Throttled(secs)),
            Decision::Admit(new) => new,
        };
        let swapped = match row {
            None => with_pool!(db, p => sqlx::query(
                "INSERT INTO login_throttle (key, failures, locked_until, window_start) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO NOTHING")
                .bind(key).bind(attempts).bind(locked_until).bind(last_at)
                .execute(p).await.map(|r| r.rows_affected()))?,
            Some((was_attempts, was_locked, was_last)) => with_pool!(db, p => sqlx::query(
                "UPDATE login_throttle SET failures = $2, locked_until = $3, window_start = $4 \
                 WHERE key = $1 AND failures = $5 AND locked_until = $6 AND window_start = $7")
                .bind(key).bind(attempts).bind(locked_until).bind(last_at)
                .bind(was_attempts).bind(was_locked).bind(was_last)
                .execute(p).await.map(|r| r.rows_affected()))?,
        };
        if swapped == 1 {
            return Ok(());
        }
    }
    Err(AuthError::Throttled(1))
}

/// A check that succeeded takes its attempt back: a pair's or a device's count is cleared (its
/// lock too), an address's lowered by one.
pub(super) async fn succeeded(db: &Db, keys: &[String]) -> Result<()> {
    for key in keys {
        if key.starts_with("ip:") {
            with_pool!(db, p => sqlx::query(
                "UPDATE login_throttle SET failures = failures - 1 WHERE key = $1 AND failures > 0")
                .bind(key).execute(p).await.map(|_| ()))?;
        } else if key.starts_with("pair:") || key.starts_with("device:") {
            with_pool!(db, p => sqlx::query("DELETE FROM login_throttle WHERE key = $1")
                .bind(key).execute(p).await.map(|_| ()))?;
        }
    }
    Ok(())
}

/// How long a browser stays trusted without signing in again.
pub const DEVICE_TRUST_SECS: i64 = 365 * 24 * 60 * 60;

/// Deletes keys untouched for [`FORGET_SECS`] and not locked, and devices unused for
/// [`DEVICE_TRUST_SECS`] (the pruner).
pub(super) async fn prune(db: &Db) -> Result<u64> {
    let at = now();
    let keys = with_pool!(db, p => sqlx::query(
        "DELETE FROM login_throttle WHERE window_start < $1 AND locked_until < $2")
        .bind(at - FORGET_SECS).bind(at).execute(p).await.map(|r| r.rows_affected()))?;
    let devices = with_pool!(db, p => sqlx::query(
        "DELETE FROM trusted_devices WHERE last_used_at < $1")
        .bind(at - DEVICE_TRUST_SECS).execute(p).await.map(|r| r.rows_affected()))?;
    Ok(keys + devices)
}

/// Refreshes per sign-in, on this instance: a GCRA limiter keyed by sign-in id (governor), so that
/// one looping client cannot grow the refresh table, the denylist (each rotation denies the access
/// token it replaces) and the notification stream without bound. Per instance: a client spread
/// over n instances gets n times the rate, still bounded.
pub struct RefreshLimit {
    limiter: governor::DefaultKeyedRateLimiter<String>,
}

impl RefreshLimit {
    /// `per_minute` refreshes per sign-in, in bursts of as many; `None` for 0 (no limit).
    pub fn new(per_minute: u32) -> Option<Self> {
        let per_minute = std::num::NonZeroU32::new(per_minute)?;
        Some(Self {
            limiter: governor::RateLimiter::keyed(governor::Quota::per_minute(per_minute)),
        })
    }

    /// Counts one refresh of sign-in `sid`; refused ([`AuthError::Throttled`]) past the limit.
    pub fn check(&self, sid: &str) -> Result<()> {
        use governor::clock::{Clock, DefaultClock};
        self.limiter
            .check_key(&sid.to_owned())
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                AuthError::Throttled(wait.as_secs().max(1) as i64)
            })
    }

    /// Forgets sign-ins that have not refreshed lately (the pruner).
    pub fn prune(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(ip: &str) -> ClientMeta {
        ClientMeta {
            ip: Some(ip.into()),
            ..Default::default()
        }
    }

    /// Admits `n` attempts at once (at `at`), returning each decision, the state carried on.
    fn run(row: &mut Option<Row>, at: i64, n: usize, rule: Rule) -> Vec<Decision> {
        (0..n)
            .map(|_| {
                let d = decide(*row, at, rule);
                if let Decision::Admit(new) = d {
                    *row = Some(new);
                }
                d
            })
            .collect()
    }

    #[test]
    fn back_off_starts_after_the_allowance_and_doubles() {
        assert_eq!(
            (1..=9).map(|n| lock_secs(n, 5)).collect::<Vec<_>>(),
            vec![0, 0, 0, 0, 0, 1, 2, 4, 8]
        );
    }

    #[test]
    fn attempts_at_the_same_moment_are_admitted_only_up_to_the_allowance_and_one_more() {
        let mut row = None;
        let decisions = run(&mut row, 1000, 50, PAIR);
        let admitted = decisions
            .iter()
            .filter(|d| matches!(d, Decision::Admit(_)))
            .count();
        // Five free, the sixth admitted and locking for a second; the rest refused.
        assert_eq!(admitted, 6);
        assert_eq!(decisions[6], Decision::Refuse(1));
    }

    #[test]
    fn the_back_off_carries_over_instead_of_starting_again() {
        let mut row = None;
        run(&mut row, 0, 6, PAIR);
        // Waiting out each lock: the locks keep doubling (1, 2, 4, … s), as the waits are far
        // shorter than the time that forgives an attempt.
        let mut at = 1;
        let mut locks = vec![];
        for _ in 0..5 {
            let Decision::Admit(new) = decide(row, at, PAIR) else {
                panic!("refused after waiting out the lock");
            };
            locks.push(new.1 - at);
            row = Some(new);
            at = new.1;
        }
        assert_eq!(locks, vec![2, 4, 8, 16, 32]);
        // Fifteen minutes later (the old window) the count has not started again: five forgiven,
        // and the next attempt still locks.
        let Decision::Admit((count, until, _)) = decide(row, at + 15 * 60, PAIR) else {
            panic!("refused");
        };
        assert!(count > PAIR.free, "{count}");
        assert!(until > at + 15 * 60);
        // A day of quiet forgives everything.
        let Decision::Admit((count, until, _)) = decide(row, at + FORGET_SECS, PAIR) else {
            panic!("refused");
        };
        assert_eq!((count, until), (1, 0));
    }

    #[test]
    fn locks_stop_at_the_rules_longest() {
        let mut row = Some((1000, 0, 0));
        let Decision::Admit((_, until, _)) = decide(row, 1, PAIR) else {
            panic!()
        };
        assert_eq!(until - 1, PAIR.max_lock);
        row = Some((1000, 0, 0));
        let Decision::Admit((_, until, _)) = decide(row, 1, ADDRESS) else {
            panic!()
        };
        assert_eq!(until - 1, ADDRESS.max_lock);
    }

    #[test]
    fn a_check_counts_against_its_pair_and_its_address_or_its_device_alone() {
        assert_eq!(
            login_keys(" Ada@Example.com", &meta("10.0.0.1"), None),
            vec!["pair:ada@example.com|10.0.0.1", "ip:10.0.0.1"]
        );
        assert_eq!(
            login_keys("ada@example.com", &meta("127.0.0.1"), None),
            vec!["pair:ada@example.com|local"]
        );
        assert_eq!(
            login_keys("ada@example.com", &meta("10.0.0.1"), Some("d1")),
            vec!["device:d1"]
        );
        let v6 = |ip: &str| login_keys("ada@example.com", &meta(ip), None)[1].clone();
        assert_eq!(v6("2001:db8:1:2:aaaa::1"), "ip:2001:db8:1:2::/64");
        assert_eq!(v6("2001:db8:1:2:bbbb::9"), "ip:2001:db8:1:2::/64");
        assert_eq!(v6("::ffff:10.0.0.1"), "ip:10.0.0.1");
        assert_eq!(register_keys(&meta("10.0.0.1")), vec!["register:10.0.0.1"]);
        assert!(register_keys(&meta("::1")).is_empty());
        assert_eq!(rule("register:10.0.0.1"), REGISTER);
        assert_eq!(rule("ip:10.0.0.1"), ADDRESS);
        assert_eq!(rule("device:d1"), PAIR);
    }
}
