-- Paid channels (src/delivery/sms.rs, zalo.rs): the phone number a delivery was
-- sent to, as a keyed hash only (a STOP reply from that number finds whom it
-- stops), and the Zalo Official Account's tokens, refreshed by one replica at a
-- time and shared by all.
ALTER TABLE deliveries ADD COLUMN phone_hash bytea;
CREATE INDEX deliveries_by_phone_hash ON deliveries (phone_hash) WHERE phone_hash IS NOT NULL;

ALTER TABLE channel_stops ADD COLUMN reply_cost_vnd integer NOT NULL DEFAULT 0;

CREATE TABLE zalo_tokens (
    only_one      boolean PRIMARY KEY DEFAULT true CHECK (only_one),
    access_token  text NOT NULL,
    refresh_token text NOT NULL,
    expires_at    timestamptz NOT NULL
);
