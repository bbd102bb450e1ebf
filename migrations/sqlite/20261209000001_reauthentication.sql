-- When the person behind a sign-in last proved who they are (OpenID `auth_time`): NULL until they
-- enter their password again within it (`prompt=login`, `max_age`); until then, `created_at`.
ALTER TABLE signins ADD COLUMN authenticated_at BIGINT;
