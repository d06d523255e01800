-- The read model of the kernel's test projection: one row per Noted event.
CREATE TABLE notes (
    event_id  uuid PRIMARY KEY,
    stream_id text NOT NULL,
    text      text NOT NULL,
    sequence  bigint NOT NULL,
    -- Order of application, to check that a consumer applies a stream in order.
    applied   bigint GENERATED ALWAYS AS IDENTITY
);
