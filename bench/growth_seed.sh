#!/usr/bin/env bash
# Seeds a Signoff database for bench/growth.sh with SQL alone: sign-ins FROM+1 … TO, each a
# `signins` row (kind `token`, started and last used within the past hour, so that neither the
# idle nor the absolute lifetime ends it) with its opaque token's `tokens` row (a random SHA-256-
# sized digest: no client holds its clear text), one `users` row per 10 sign-ins (the password hash
# of bench@example.com, which must exist), and as many `jwt_denylist` rows expiring within the hour
# (what a server loads into memory at start). Ids are UUID-shaped like the server's (v7 on SQLite,
# time-ordered; v4 on PostgreSQL). The columns are those of migrations/.
#
#   bench/growth_seed.sh sqlite /path/to/signoff.db FROM TO
#   bench/growth_seed.sh postgres postgres://…/db FROM TO
#
# On PostgreSQL the inserts run with session_replication_role = replica, so that the denylist's
# trigger does not send a million revocation notices (these rows are an import, not revocations).
set -euo pipefail
engine=$1 db=$2 from=$3 to=$4
[ "$to" -gt "$from" ] || exit 0
now=$(date +%s)
users_from=$(( (from + 9) / 10 ))
users_to=$(( (to + 9) / 10 ))

if [ "$engine" = sqlite ]; then
  sqlite3 "$db" <<SQL
PRAGMA synchronous = NORMAL;
BEGIN;
WITH RECURSIVE n(u) AS (SELECT $users_from + 1 UNION ALL SELECT u + 1 FROM n WHERE u < $users_to)
INSERT INTO users (id, email, password_hash, created_at)
SELECT printf('00000000-0000-4000-8000-%012d', u), printf('seed-%d@example.com', u),
       (SELECT password_hash FROM users WHERE email = 'bench@example.com'), $now
FROM n;
CREATE TEMP TABLE mark AS SELECT coalesce(max(rowid), 0) AS r FROM signins;
-- UUIDv7-shaped: a millisecond time prefix (one sign-in every 3 ms over the past hour or so),
-- random bits after it.
WITH RECURSIVE n(i) AS (SELECT $from + 1 UNION ALL SELECT i + 1 FROM n WHERE i < $to)
INSERT INTO signins (id, user_id, kind, created_at, last_seen_at, user_agent, ip)
SELECT printf('%08x-%04x-7%03x-%04x-%012x', ms >> 16, ms & 65535, abs(random()) % 4096,
              32768 + abs(random()) % 16384, abs(random()) % 281474976710656),
       printf('00000000-0000-4000-8000-%012d', (i + 9) / 10), 'token', t, t, 'growth-seed', '127.0.0.1'
FROM (SELECT i, ($now - 3600) * 1000 + i * 3 % 3600000 AS ms, $now - 3600 + i % 3600 AS t FROM n);
INSERT INTO tokens (digest, signin_id, name, created_at, expires_at, last_used_at)
SELECT lower(hex(randomblob(32))), id, NULL, created_at, created_at + 30 * 86400, NULL
FROM signins WHERE rowid > (SELECT r FROM mark);
WITH RECURSIVE n(i) AS (SELECT $from + 1 UNION ALL SELECT i + 1 FROM n WHERE i < $to)
INSERT INTO jwt_denylist (jti, expires_at)
SELECT printf('%08x-%04x-7%03x-%04x-%012x', ms >> 16, ms & 65535, abs(random()) % 4096,
              32768 + abs(random()) % 16384, abs(random()) % 281474976710656),
       $now + 600 + i % 3000
FROM (SELECT i, ($now - 900) * 1000 + i % 900000 AS ms FROM n);
COMMIT;
SQL
else
  psql "$db" -XqAt -v ON_ERROR_STOP=1 <<SQL
SET session_replication_role = replica;
SET synchronous_commit = off;
BEGIN;
INSERT INTO users (id, email, password_hash, created_at)
SELECT format('00000000-0000-4000-8000-%s', lpad(u::text, 12, '0')), format('seed-%s@example.com', u),
       (SELECT password_hash FROM users WHERE email = 'bench@example.com'), $now
FROM generate_series($users_from + 1, $users_to) AS u;
WITH s AS (
  INSERT INTO signins (id, user_id, kind, created_at, last_seen_at, user_agent, ip)
  SELECT gen_random_uuid()::text, format('00000000-0000-4000-8000-%s', lpad(((i + 9) / 10)::text, 12, '0')),
         'token', $now - 3600 + i % 3600, $now - 3600 + i % 3600, 'growth-seed', '127.0.0.1'
  FROM generate_series($from + 1, $to) AS i
  RETURNING id, created_at
)
INSERT INTO tokens (digest, signin_id, name, created_at, expires_at, last_used_at)
SELECT md5(random()::text) || md5(random()::text), id, NULL, created_at, created_at + 30 * 86400, NULL FROM s;
INSERT INTO jwt_denylist (jti, expires_at)
SELECT gen_random_uuid()::text, $now + 600 + i % 3000 FROM generate_series($from + 1, $to) AS i;
COMMIT;
ANALYZE users; ANALYZE signins; ANALYZE tokens; ANALYZE jwt_denylist;
SQL
fi
