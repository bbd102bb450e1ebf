-- Revocations reach every instance: ending a sign-in or denying a JWT notifies channel
-- `signoff_revoked` in the same transaction (NOTIFY is delivered on commit, never for a rollback).
-- Payloads: `sid <sign-in id>` and `jti <jti> <expires_at>`.
CREATE FUNCTION signoff_notify_signin_ended() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('signoff_revoked', 'sid ' || NEW.id);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER signins_ended_notify
    AFTER UPDATE OF ended_at ON signins
    FOR EACH ROW
    WHEN (OLD.ended_at IS NULL AND NEW.ended_at IS NOT NULL)
    EXECUTE FUNCTION signoff_notify_signin_ended();

CREATE FUNCTION signoff_notify_jti_denied() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('signoff_revoked', 'jti ' || NEW.jti || ' ' || NEW.expires_at);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER jwt_denylist_notify
    AFTER INSERT ON jwt_denylist
    FOR EACH ROW
    EXECUTE FUNCTION signoff_notify_jti_denied();
