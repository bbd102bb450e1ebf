-- The audit trail: sign-ins, logouts (with scope and which page or API), tokens created or revoked,
-- refresh-token reuse, password changes. Written in the same transaction as the change it records.
-- Never holds a token or a password: only ids, event names and a short readable detail.
CREATE TABLE audit_events (
    id        TEXT PRIMARY KEY NOT NULL,
    user_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    at        INTEGER NOT NULL,
    event     TEXT NOT NULL,
    signin_id TEXT,
    detail    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_by_user ON audit_events (user_id, at);
