-- Signoff as an OpenID Provider. Times are Unix seconds.

-- Clients, registered by the operator (`signoff clients add`). The secret is stored as its SHA-256
-- digest only (it is 256 random bits, so a slow hash adds nothing); a public client has none.
-- URI lists are JSON arrays of strings, compared exactly.
CREATE TABLE oidc_clients (
    client_id                 TEXT PRIMARY KEY NOT NULL,
    name                      TEXT NOT NULL,
    secret_digest             TEXT,
    redirect_uris             TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    backchannel_logout_uri    TEXT,
    created_at                INTEGER NOT NULL
);

-- Which clients received an ID token in which sign-in: each is sent a logout token when the
-- sign-in ends, and `/sessions` lists them.
CREATE TABLE oidc_signin_clients (
    signin_id  TEXT NOT NULL REFERENCES signins(id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    sub        TEXT NOT NULL,
    first_at   INTEGER NOT NULL,
    PRIMARY KEY (signin_id, client_id)
);

-- Authorization codes, by their SHA-256 digest: single use, 60 seconds. A second use revokes what
-- the first issued (`refresh_tokens.grant_id` is the code's digest).
CREATE TABLE oidc_codes (
    digest         TEXT PRIMARY KEY NOT NULL,
    client_id      TEXT NOT NULL,
    signin_id      TEXT NOT NULL REFERENCES signins(id) ON DELETE CASCADE,
    redirect_uri   TEXT NOT NULL,
    scope          TEXT NOT NULL,
    nonce          TEXT,
    code_challenge TEXT,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER
);
CREATE INDEX oidc_codes_by_expiry ON oidc_codes (expires_at);

-- An OpenID client's refresh tokens carry the grant (code) they came from, through every rotation.
ALTER TABLE refresh_tokens ADD COLUMN grant_id TEXT;
CREATE INDEX refresh_tokens_by_grant ON refresh_tokens (grant_id) WHERE grant_id IS NOT NULL;

-- The outbox carries back-channel logout tokens beside webhooks: `kind` 'webhook' or
-- 'backchannel'. A logout token's claims are fixed at commit; it is signed at each attempt, so
-- that its `exp` (iat + 120) holds on a retry.
ALTER TABLE webhook_outbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'webhook';
