-- The read model of the kernel's test projection: one row per Noted event.
CREATE TABLE notes (
    event_id  uuid PRIMARY KEY,
    stream_id text NOT NULL,
    text      text NOT NULL,
    sequence  bigint NOT NULL
);
