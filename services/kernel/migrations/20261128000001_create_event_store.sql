-- The event store of one service, in that service's schema (search_path).

CREATE TABLE events (
    -- Handed out at insert, before commit: not commit order on its own.
    position          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The inserting transaction. Readers in commit order take only rows whose
    -- transaction is older than every transaction still running (see outbox relay).
    tx_id             bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    event_id          uuid NOT NULL UNIQUE,
    stream_id         text NOT NULL,
    stream_version    bigint NOT NULL CHECK (stream_version > 0),
    event_type        text NOT NULL,
    schema_version    integer NOT NULL,
    data              jsonb NOT NULL,
    -- The published form: full protobuf name and encoded message. NULL for events
    -- that stay inside the service.
    published_type    text,
    published_payload bytea,
    -- How many of the stream's events up to this one are published: a published
    -- event's place among them (CloudEvents `sequence`, what consumers check for
    -- gaps, since internal events also take stream versions).
    published_count   bigint NOT NULL,
    actor             text,
    correlation_id    uuid NOT NULL,
    causation_id      uuid,
    traceparent       text,
    tracestate        text,
    district_id       uuid,
    school_id         uuid,
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT events_stream_version_unique UNIQUE (stream_id, stream_version),
    CONSTRAINT events_published_complete
        CHECK ((published_type IS NULL) = (published_payload IS NULL))
);

CREATE INDEX events_commit_order ON events (tx_id, position);

-- Idempotent commands: the first answer to each client request id.
CREATE TABLE requests (
    request_id  uuid PRIMARY KEY,
    command     text NOT NULL,
    response    jsonb NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);

-- How far the outbox relay has published, in commit order.
CREATE TABLE relay_checkpoint (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    tx_id       bigint NOT NULL,
    position    bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO relay_checkpoint (tx_id, position) VALUES (0, 0);
