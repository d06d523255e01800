-- Messaging's write model, projected from its own events (src/write_model.rs):
-- direct threads, and the messages of every conversation with their edits.

-- A direct thread between two people; class and staff groups need no row (a
-- class group's id is its class's id, a staff group's its school's).
CREATE TABLE direct_threads (
    id          uuid PRIMARY KEY,
    school_id   uuid NOT NULL,
    district_id uuid NOT NULL,
    -- The two people, the smaller id first: one thread per pair.
    person_a    uuid NOT NULL,
    person_b    uuid NOT NULL,
    started_at  timestamptz NOT NULL,
    CONSTRAINT direct_threads_pair UNIQUE (person_a, person_b),
    CHECK (person_a < person_b)
);
CREATE INDEX direct_threads_by_b ON direct_threads (person_b);

-- Each conversation's last message number and time.
CREATE TABLE conversation_heads (
    conversation_id uuid PRIMARY KEY,
    last_seq        bigint NOT NULL,
    last_message_at timestamptz NOT NULL
);

CREATE TABLE messages (
    conversation_id   uuid NOT NULL,
    seq               bigint NOT NULL,
    id                uuid NOT NULL UNIQUE,
    author_account_id uuid NOT NULL,
    author_person_id  uuid,
    body              text NOT NULL,
    reply_to          uuid,
    posted_at         timestamptz NOT NULL,
    edited_at         timestamptz,
    deleted_at        timestamptz,
    deleted_by        uuid,
    PRIMARY KEY (conversation_id, seq)
);

-- The texts a message had before each edit: the school keeps the record.
CREATE TABLE message_edits (
    message_id    uuid NOT NULL,
    edited_at     timestamptz NOT NULL,
    previous_body text NOT NULL,
    PRIMARY KEY (message_id, edited_at)
);

-- Where each reader is in each conversation, and whether they muted it: the
-- reader's own state, not a fact of the conversation, so no event carries it and
-- a rebuild leaves it.
CREATE TABLE conversation_states (
    person_id       uuid NOT NULL,
    conversation_id uuid NOT NULL,
    read_seq        bigint NOT NULL DEFAULT 0,
    muted           boolean NOT NULL DEFAULT false,
    PRIMARY KEY (person_id, conversation_id)
);
