-- Accounts and sign-ins. Times are Unix seconds (BIGINT here, INTEGER on SQLite) so that one set of
-- queries serves both databases.
CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    -- Trimmed and lower-cased: emails are compared without case.
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

-- A sign-in is one login on one device. Every credential (browser session, API token, JWT pair)
-- belongs to exactly one sign-in; ending the sign-in revokes all of them.
CREATE TABLE signins (
    id           TEXT PRIMARY KEY NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- 'browser', 'token' (opaque API token), 'jwt' or 'personal' (a named token from /tokens).
    kind         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    user_agent   TEXT,
    ip           TEXT,
    ended_at     BIGINT,
    -- Why it ended: 'logout', 'logout_others', 'logout_global', 'superseded', 'refresh_reuse', ...
    end_reason   TEXT
);
CREATE INDEX signins_by_user ON signins (user_id, ended_at);
CREATE INDEX signins_by_end ON signins (ended_at);
