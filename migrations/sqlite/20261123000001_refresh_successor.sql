-- Each rotated refresh token remembers the token that replaced it, so that a refresh repeated within
-- the grace window (SIGNOFF_REFRESH_GRACE_SECS) gets the very same successor pair again, while a
-- rotated token presented later ends the whole sign-in (reuse: likely theft).
ALTER TABLE refresh_tokens ADD COLUMN successor_jti TEXT;
