-- PostgreSQL notifies other instances of revocations from triggers (see the postgres migration of
-- the same name). SQLite serves one server process, which updates its own denylist directly; this
-- migration only keeps both engines' version numbers in step.
SELECT 1;
