-- Throttling after OWASP's guidance: keys are now 'pair:<email>|<address>', 'ip:<address>',
-- 'device:<digest>' and 'register:<address>'; 'failures' counts attempts (counted before they are
-- checked), and 'window_start' is when the key last counted one (each rule forgives one attempt
-- per so many seconds since). The old per-account keys mean nothing now.
DELETE FROM login_throttle;

-- Browsers that signed in to an account (OWASP's device cookies): the SHA-256 of the cookie's
-- value, per account. A password check from such a browser is counted against it alone.
CREATE TABLE trusted_devices (
    digest       TEXT NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    PRIMARY KEY (digest, user_id)
);
CREATE INDEX trusted_devices_by_user ON trusted_devices (user_id);
