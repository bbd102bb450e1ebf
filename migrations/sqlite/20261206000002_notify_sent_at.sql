-- PostgreSQL's revocation notifications now carry their send time (see the postgres migration of the
-- same name). SQLite serves one process and needs no notification; this keeps the versions in step.
SELECT 1;
