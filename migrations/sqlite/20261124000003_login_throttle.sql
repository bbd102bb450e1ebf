-- Failed password checks per account ('account:<email>') and per client address ('ip:<addr>'),
-- shared by every instance: the failures of the current window (15 minutes from its first failure)
-- and the time until which the key is locked.
CREATE TABLE login_throttle (
    key          TEXT PRIMARY KEY NOT NULL,
    failures     INTEGER NOT NULL,
    locked_until INTEGER NOT NULL,
    window_start INTEGER NOT NULL
);
