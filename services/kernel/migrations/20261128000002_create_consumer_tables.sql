-- What this service's consumers have handled from other services' streams.

-- One row per event a consumer has projected: a redelivery finds it and changes nothing.
CREATE TABLE inbox (
    consumer     text NOT NULL,
    event_id     uuid NOT NULL,
    handled_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- The last version each consumer saw of each source stream, to detect gaps.
CREATE TABLE consumer_streams (
    consumer       text NOT NULL,
    stream_id      text NOT NULL,
    stream_version bigint NOT NULL,
    PRIMARY KEY (consumer, stream_id)
);

-- Versions a consumer never received before it moved on: an operator rebuilds.
CREATE TABLE stream_gaps (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    consumer         text NOT NULL,
    stream_id        text NOT NULL,
    expected_version bigint NOT NULL,
    received_version bigint NOT NULL,
    event_id         uuid NOT NULL,
    detected_at      timestamptz NOT NULL DEFAULT now()
);

-- Events a consumer could not handle after its bounded retries; the stream moved on.
CREATE TABLE dead_letters (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    consumer      text NOT NULL,
    event_id      uuid NOT NULL,
    event_type    text NOT NULL,
    subject       text NOT NULL,
    headers       jsonb NOT NULL,
    payload       bytea NOT NULL,
    error         text NOT NULL,
    attempts      integer NOT NULL,
    failed_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (consumer, event_id)
);
