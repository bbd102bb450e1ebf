-- Logout events for other services (Standard Webhooks): one row per event and receiver, written by
-- the logout engine in the transaction that ends the sign-in, sent and retried in the background.
-- Times are Unix seconds.
CREATE TABLE webhook_outbox (
    event_id        TEXT NOT NULL,      -- webhook-id, the same for every attempt (msg_…)
    endpoint        TEXT NOT NULL,      -- the receiver's URL
    payload         TEXT NOT NULL,      -- the JSON body, fixed at commit
    created_at      BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,    -- due from then; moved ahead while an instance sends it
    attempts        BIGINT NOT NULL DEFAULT 0,
    delivered_at    BIGINT,             -- a 2xx answer was received
    failed_at       BIGINT,             -- given up after the last attempt
    last_error      TEXT,               -- 'HTTP 500', 'could not connect', 'timed out'
    PRIMARY KEY (event_id, endpoint)
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
