-- The sweeper (every SIGNOFF_SWEEP_SECS) finds the active sign-ins past their idle or absolute
-- lifetime by these, without reading the ended ones.
CREATE INDEX signins_active_by_last_seen ON signins (last_seen_at) WHERE ended_at IS NULL;
CREATE INDEX signins_active_by_start ON signins (created_at) WHERE ended_at IS NULL;
