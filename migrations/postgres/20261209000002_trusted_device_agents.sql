-- The browser a trusted device is (its User-Agent when it last signed in, truncated), so that
-- `/sessions` can list the trusted browsers for their owner to recognise, or forget.
ALTER TABLE trusted_devices ADD COLUMN user_agent TEXT;
