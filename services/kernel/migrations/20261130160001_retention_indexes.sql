-- The retention job (kernel/src/retention.rs) finds old rows by time.
CREATE INDEX inbox_by_time ON inbox (handled_at);
CREATE INDEX requests_by_time ON requests (recorded_at);
