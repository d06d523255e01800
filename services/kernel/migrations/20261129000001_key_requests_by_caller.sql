-- Idempotency records belong to the caller who made them and remember what was
-- asked: another caller's request with the same id is a new request, and the same
-- id with a different request is refused. Records from before have the nil caller
-- and no fingerprint, so nobody's retry finds them.
ALTER TABLE requests
    ADD COLUMN caller uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000',
    ADD COLUMN fingerprint bytea;
ALTER TABLE requests ALTER COLUMN caller DROP DEFAULT;
ALTER TABLE requests DROP CONSTRAINT requests_pkey;
ALTER TABLE requests ADD PRIMARY KEY (caller, request_id);
