-- One data key per person: their name, birth date, phone number, username and the
-- free text about them are sealed under it in the event store
-- (services/identity/src/personal_data.rs). Erasing the person deletes the key.
-- Not a projection: a rebuild of the write model reads it and leaves it as it is.
CREATE TABLE personal_data_keys (
    person_id  uuid PRIMARY KEY,
    key        bytea NOT NULL CHECK (length(key) = 32),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- When a person's personal data was erased; their row keeps ids and codes only.
ALTER TABLE people ADD COLUMN erased_at timestamptz;
