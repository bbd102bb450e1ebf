-- Revocation notifications also say when they were sent (Unix milliseconds, last), so that every
-- instance can measure how long a revocation took to reach it (`signoff_revocation_lag_seconds`).
-- Payloads: `sid <id> <reason> <sent_ms>` and `jti <jti> <expires_at> <sent_ms>`.
CREATE OR REPLACE FUNCTION signoff_notify_signin_ended() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('signoff_revoked', 'sid ' || NEW.id || ' ' || COALESCE(NEW.end_reason, '')
        || ' ' || (extract(epoch FROM clock_timestamp()) * 1000)::bigint);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION signoff_notify_jti_denied() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('signoff_revoked', 'jti ' || NEW.jti || ' ' || NEW.expires_at
        || ' ' || (extract(epoch FROM clock_timestamp()) * 1000)::bigint);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
