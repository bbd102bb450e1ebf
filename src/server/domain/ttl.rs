//! How long credentials live. A leaf: the engine, the denylist and the outbox read these too.

/// Opaque login tokens live this long.
pub const OPAQUE_TTL: i64 = 30 * 24 * 3600;
/// JWT access tokens live this long.
pub const ACCESS_TTL: i64 = 15 * 60;
/// JWT refresh tokens live this long (each is used once).
pub const REFRESH_TTL: i64 = 30 * 24 * 3600;
