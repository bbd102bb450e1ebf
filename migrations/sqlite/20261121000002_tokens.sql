-- API credentials. Each belongs to one sign-in; ending the sign-in revokes it. Clear text is never
-- stored: opaque tokens by their SHA-256 digest, JWTs by their `jti`.

-- Opaque bearer tokens: login tokens (`so_at_…`, 30 days) and named personal tokens (`so_pat_…`).
CREATE TABLE tokens (
    digest       TEXT PRIMARY KEY NOT NULL, -- hex SHA-256 of the token
    signin_id    TEXT NOT NULL REFERENCES signins(id) ON DELETE CASCADE,
    name         TEXT,                      -- personal tokens only
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,                   -- NULL: never (personal tokens)
    last_used_at INTEGER
);
CREATE INDEX tokens_by_signin ON tokens (signin_id);

-- JWT refresh tokens, one row per issued token: rotation marks `used_at`, and presenting a used
-- one again is reuse, which ends the sign-in.
CREATE TABLE refresh_tokens (
    jti        TEXT PRIMARY KEY NOT NULL,
    signin_id  TEXT NOT NULL REFERENCES signins(id) ON DELETE CASCADE,
    access_jti TEXT NOT NULL,               -- the access token issued with it
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX refresh_tokens_by_signin ON refresh_tokens (signin_id);

-- JWT access tokens revoked one by one (the previous access token at each rotation). Whole
-- sign-ins are revoked through `signins.ended_at`. Rows are useless after `expires_at`.
CREATE TABLE jwt_denylist (
    jti        TEXT PRIMARY KEY NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX jwt_denylist_by_expiry ON jwt_denylist (expires_at);

-- Server-wide settings, such as the generated JWT signing secret shared by every instance.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
