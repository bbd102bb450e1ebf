-- Revocation notifications also say why the sign-in ended (`sid <id> <reason>`), so that every
-- instance can tell the open pages of that sign-in why they are signed out.
CREATE OR REPLACE FUNCTION signoff_notify_signin_ended() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('signoff_revoked', 'sid ' || NEW.id || ' ' || COALESCE(NEW.end_reason, ''));
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
