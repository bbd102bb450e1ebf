-- An outbox row carries the W3C traceparent of the request whose ending wrote it (when traces are
-- on), so that its delivery continues that trace.
ALTER TABLE webhook_outbox ADD COLUMN traceparent TEXT;
