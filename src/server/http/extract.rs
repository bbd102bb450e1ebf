//! What handlers and server functions read off a request besides its body: where it comes from
//! ([`ClientMeta`], an extractor) and its bearer token ([`bearer`], [`bearer_unchecked`]; the
//! JSON APIs take it as [`super::api::bearer::Bearer`]), and a form body or query's parameters
//! ([`form`], [`params`]: RFC 6749 §3.2, each at most once).

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use axum::extract::{ConnectInfo, FromRequestParts};
use http::{header, request::Parts, HeaderMap};

use super::api::error::ApiError;
use crate::server::domain::{principal::MAX_TOKEN_LEN, ClientMeta};

/// Where a request comes from, for the sign-in it may start: its `User-Agent` and peer address.
impl<S: Send + Sync> FromRequestParts<S> for ClientMeta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(client_meta(parts))
    }
}

/// [`ClientMeta`] of a request: its `User-Agent` and [`client_ip`].
pub fn client_meta(parts: &Parts) -> ClientMeta {
    ClientMeta {
        user_agent: parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        ip: client_ip(parts).map(|ip| ip.to_string()),
        device: device_cookie(&parts.headers),
        authorised_by: Default::default(),
    }
}

/// The browser's device cookie (either name: see `session::device_cookie_name`), if it sent one.
fn device_cookie(headers: &HeaderMap) -> Option<String> {
    let names = [
        super::session::device_cookie_name(true),
        super::session::device_cookie_name(false),
    ];
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| names.contains(name))
        .map(|(_, value)| value.to_owned())
}

/// The reverse proxies whose `X-Forwarded-For` is believed (`SIGNOFF_TRUSTED_PROXIES`). The server
/// puts it in every request's extensions beside the peer's [`ConnectInfo`], only when the list is
/// not empty (`server::startup`).
#[derive(Clone, Debug)]
pub struct TrustedProxies(pub Arc<[ipnet::IpNet]>);

impl TrustedProxies {
    fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }
}

/// Where a request comes from: the TCP peer, unless the peer is a trusted proxy
/// ([`TrustedProxies`]); then the right-most `X-Forwarded-For` entry that is not a trusted proxy
/// (each proxy appends the address it got the request from, so everything to the left of that
/// entry was written by the client and proves nothing). Without trusted proxies the header is
/// ignored.
pub fn client_ip(parts: &Parts) -> Option<IpAddr> {
    let ConnectInfo(peer) = parts.extensions.get::<ConnectInfo<SocketAddr>>()?;
    let peer = peer.ip().to_canonical();
    match parts.extensions.get::<TrustedProxies>() {
        Some(trusted) if trusted.contains(peer) => {
            Some(forwarded_for(&parts.headers, trusted, peer))
        }
        _ => Some(peer),
    }
}

/// The right-most `X-Forwarded-For` entry (across every such header, in order) that is not in
/// `trusted`, walking left from `peer`. An entry that is not an address ends the walk at the last
/// trusted hop: a proxy we trust passed on something it did not write itself.
fn forwarded_for(headers: &HeaderMap, trusted: &TrustedProxies, peer: IpAddr) -> IpAddr {
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("").split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for entry in entries.iter().rev() {
        let Some(ip) = parse_forwarded(entry) else {
            break;
        };
        client = ip;
        if !trusted.contains(ip) {
            break;
        }
    }
    client
}

/// An `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:5`, `[2001:db8::1]:5`).
fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|a| a.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

/// The bearer token of `Authorization`, if the header is there. A header that is present but not
/// exactly `Bearer <token>` (no scheme, empty, non-ASCII, repeated, too long, a character outside
/// RFC 6750's `b64token`) is 401.
pub fn bearer(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    match bearer_unchecked(headers)? {
        Some(token) if !is_token68(token.as_bytes()) => Err(ApiError::Unauthorized),
        token => Ok(token),
    }
}

/// [`bearer`] without the check of the token's characters, for the reads that come by the hundred
/// thousand a second (`me`): there a token is only ever compared with tokens this server issued
/// (by its digest, by the cache of verified JWTs, or by a JWT's signature), so one with a stray
/// character is refused all the same, with the same 401, as a `?token=` query parameter always
/// was. Checking a JWT's 421 characters was 0.5 % of the server's CPU samples under that load.
pub fn bearer_unchecked(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() || value.len() > MAX_TOKEN_LEN + 7 {
        return Err(ApiError::Unauthorized);
    }
    let value = value.as_bytes();
    let space = value
        .iter()
        .position(|&b| b == b' ')
        .ok_or(ApiError::Unauthorized)?;
    let (scheme, token) = (&value[..space], &value[space + 1..]);
    if !scheme.eq_ignore_ascii_case(b"bearer") || token.is_empty() || !token.is_ascii() {
        return Err(ApiError::Unauthorized);
    }
    std::str::from_utf8(token)
        .map(Some)
        .map_err(|_| ApiError::Unauthorized)
}

/// Whether every byte is one of RFC 6750's `b64token` characters. A fold rather than `all`, and
/// ranges as wrapping subtractions: without the early exit and the branches the compiler
/// vectorizes the loop, and a JWT is some 400 bytes, checked on every request.
fn is_token68(token: &[u8]) -> bool {
    token.iter().fold(true, |ok, &b| {
        let letter = (b | 0x20).wrapping_sub(b'a') < 26;
        let digit = b.wrapping_sub(b'0') < 10;
        // `+` `-` `.` `/` are 0x2b, 0x2d, 0x2e, 0x2f; then `=`, `_` and `~`.
        let sign = (b.wrapping_sub(b'+') < 5) & (b != b',');
        ok & (letter | digit | sign | (b == b'=') | (b == b'_') | (b == b'~'))
    })
}

/// The trace id of a request: the one its W3C `traceparent` header carries (a caller's trace
/// continues here), else a new random one; 32 lower-case hex digits either way.
pub fn trace_id(headers: &http::HeaderMap) -> String {
    let given = headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split('-').nth(1))
        .filter(|id| {
            id.len() == 32
                && id
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                && id.bytes().any(|b| b != b'0')
        });
    match given {
        Some(id) => id.to_owned(),
        // The thread's own generator: no system call on every request's way in.
        None => format!("{:032x}", rand::random::<u128>().max(1)),
    }
}

/// A form body's `known` parameters; `None` when it is not a form or one of them is repeated
/// (RFC 6749 §3.2: a parameter the endpoint defines must not be sent twice). Others are left out,
/// repeated or not; an empty value counts as absent.
pub fn form(headers: &HeaderMap, body: &[u8], known: &[&str]) -> Option<HashMap<String, String>> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return None;
    }
    params(body, known)
}

/// `application/x-www-form-urlencoded` text's (a body's or a query's) `known` parameters, as
/// [`form`] reads them.
pub fn params(text: &[u8], known: &[&str]) -> Option<HashMap<String, String>> {
    let mut map = HashMap::new();
    for (key, value) in form_urlencoded::parse(text) {
        if value.is_empty() || !known.contains(&key.as_ref()) {
            continue;
        }
        if map.insert(key.into_owned(), value.into_owned()).is_some() {
            return None;
        }
    }
    Some(map)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_known_parameter_may_not_repeat_and_others_are_left_out() {
        let known = ["token", "hint"];
        let p = super::params(b"token=a&x=1&x=2&hint=&y=3", &known).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p["token"], "a");
        assert!(super::params(b"token=a&token=b", &known).is_none());
    }

    use http::HeaderValue;

    use super::*;

    fn ip_of(peer: &str, trusted: &[&str], xff: &[&str]) -> String {
        let mut req = http::Request::new(());
        for value in xff {
            req.headers_mut()
                .append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        req.extensions_mut().insert(ConnectInfo(
            format!("{peer}:4000").parse::<SocketAddr>().unwrap(),
        ));
        if !trusted.is_empty() {
            let nets = trusted.iter().map(|t| t.parse().unwrap()).collect();
            req.extensions_mut().insert(TrustedProxies(nets));
        }
        client_ip(&req.into_parts().0).unwrap().to_string()
    }

    #[test]
    fn forwarded_for_counts_only_from_trusted_proxies() {
        // Without the setting the header is ignored.
        assert_eq!(ip_of("10.0.0.2", &[], &["203.0.113.9"]), "10.0.0.2");
        // From a peer that is not a trusted proxy, likewise.
        assert_eq!(
            ip_of("198.51.100.1", &["10.0.0.0/8"], &["203.0.113.9"]),
            "198.51.100.1"
        );
        // The right-most entry that is not a proxy; what the client wrote to its left is ignored.
        assert_eq!(
            ip_of(
                "10.0.0.2",
                &["10.0.0.0/8"],
                &["1.1.1.1, 203.0.113.9, 10.0.0.7"]
            ),
            "203.0.113.9"
        );
        assert_eq!(
            ip_of(
                "10.0.0.2",
                &["10.0.0.0/8"],
                &["1.1.1.1", "203.0.113.9:5555"]
            ),
            "203.0.113.9"
        );
        assert_eq!(
            ip_of("[::1]", &["::1/128"], &["[2001:db8::5]:80"]),
            "2001:db8::5"
        );
        // Every hop trusted: the left-most; none at all: the peer; garbage: the last trusted hop.
        assert_eq!(
            ip_of("10.0.0.2", &["10.0.0.0/8"], &["10.0.0.9, 10.0.0.8"]),
            "10.0.0.9"
        );
        assert_eq!(ip_of("10.0.0.2", &["10.0.0.0/8"], &[]), "10.0.0.2");
        assert_eq!(
            ip_of("10.0.0.2", &["10.0.0.0/8"], &["junk, 10.0.0.8"]),
            "10.0.0.8"
        );
    }

    #[test]
    fn token68_is_exactly_rfc_6750s_characters() {
        for b in 0..=255u8 {
            let expected = b.is_ascii_alphanumeric()
                || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=');
            assert_eq!(is_token68(&[b]), expected, "byte {b:#04x}");
            assert_eq!(
                is_token68(&[b'a', b, b'z']),
                expected,
                "byte {b:#04x} inside"
            );
        }
        assert!(is_token68(b""));
    }

    #[test]
    fn only_well_formed_bearer_headers_pass() {
        let h = |v: &[u8]| {
            let mut m = HeaderMap::new();
            m.insert(header::AUTHORIZATION, HeaderValue::from_bytes(v).unwrap());
            m
        };
        let long = format!("Bearer {}", "a".repeat(10 * 1024));
        type Check = fn(&HeaderMap) -> Result<Option<&str>, ApiError>;
        for check in [bearer as Check, bearer_unchecked] {
            assert_eq!(check(&HeaderMap::new()), Ok(None));
            assert_eq!(check(&h(b"Bearer so_at_abc")), Ok(Some("so_at_abc")));
            assert_eq!(check(&h(b"bearer a.b.c")), Ok(Some("a.b.c")));
            for bad in [
                &b"so_at_abc"[..],
                b"Bearer",
                b"Bearer ",
                b"Basic abc",
                "Bearer é".as_bytes(),
                b"Bearer \xff",
                long.as_bytes(),
            ] {
                assert_eq!(
                    check(&h(bad)),
                    Err(ApiError::Unauthorized),
                    "{:?}",
                    String::from_utf8_lossy(bad)
                );
            }
        }
        // Only the checked one looks at the characters of an ASCII token.
        for odd in [&b"Bearer a b"[..], b"Bearer a,b", b"Bearer a\"b"] {
            assert_eq!(bearer(&h(odd)), Err(ApiError::Unauthorized));
            assert!(bearer_unchecked(&h(odd)).is_ok());
        }
    }
}
