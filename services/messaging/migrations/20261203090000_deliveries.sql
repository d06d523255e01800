-- Delivery beyond the app (src/delivery/): where people asked to be reached, how,
-- and each notice's delivery to each recipient on each channel as a state machine
-- driven from these rows (docs/notifications.md).

-- Who has activated an account (identity's AccountActivated): a guardian who has
-- not reads no notice in the app, so a paid channel reaches them at once.
CREATE TABLE activated_people (
    person_id uuid PRIMARY KEY
);

-- Browsers' push subscriptions and email addresses a person registered
-- (RegisterDevice); deleted with the person's personal data.
CREATE TABLE devices (
    id         uuid PRIMARY KEY,
    person_id  uuid NOT NULL,
    -- delivery::Channel numbers: 1 push, 2 email.
    channel    smallint NOT NULL,
    -- The push endpoint, or the email address.
    address    text NOT NULL,
    p256dh     bytea,
    auth       bytea,
    created_at timestamptz NOT NULL,
    UNIQUE (person_id, channel, address)
);

-- The channels beyond the app a person chose, in order; absent: the default.
CREATE TABLE delivery_preferences (
    person_id  uuid PRIMARY KEY,
    channels   smallint[] NOT NULL,
    updated_at timestamptz NOT NULL
);

-- A person's STOP on a paid channel, until they send START.
CREATE TABLE channel_stops (
    person_id  uuid NOT NULL,
    channel    smallint NOT NULL,
    stopped_at timestamptz NOT NULL,
    PRIMARY KEY (person_id, channel)
);

-- The paid channels a school pays for, and how long an urgent notice waits
-- unread in the app before the next channel is tried.
ALTER TABLE school_policies
    ADD COLUMN paid_channels smallint[] NOT NULL DEFAULT '{}',
    ADD COLUMN fallback_minutes integer NOT NULL DEFAULT 15;

-- The push key (VAPID, src/delivery/push/vapid.rs): made by the first replica to
-- start, shared by all through this one row.
CREATE TABLE push_key (
    only_one boolean PRIMARY KEY DEFAULT true CHECK (only_one),
    key      bytea NOT NULL
);

-- One notice to one recipient on one channel. `queued` rows are sent from
-- `due_at` on; a claimed row's `due_at` moves a lease ahead, so a replica that
-- dies mid-send leaves it to be claimed again. `fallback` rows are skipped when
-- the notice was read in the app by then.
CREATE TABLE deliveries (
    id            uuid PRIMARY KEY,
    notice_id     uuid NOT NULL,
    recipient_id  uuid NOT NULL,
    school_id     uuid NOT NULL,
    channel       smallint NOT NULL,
    fallback      boolean NOT NULL,
    state         text NOT NULL CHECK (state IN ('queued', 'sent', 'delivered', 'read', 'failed', 'skipped')),
    due_at        timestamptz NOT NULL,
    attempts      integer NOT NULL DEFAULT 0,
    -- The provider's id for the message, which its receipts name.
    provider_ref  text,
    -- What the last attempt got back; a failed row's is the dead letter's reason.
    last_error    text,
    -- What the provider charges for it, in đồng.
    cost_vnd      integer NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL,
    sent_at       timestamptz,
    delivered_at  timestamptz,
    read_at       timestamptz,
    finished_at   timestamptz,
    UNIQUE (notice_id, recipient_id, channel)
);
CREATE INDEX deliveries_due ON deliveries (channel, due_at) WHERE state = 'queued';
CREATE INDEX deliveries_by_provider_ref ON deliveries (channel, provider_ref) WHERE provider_ref IS NOT NULL;
CREATE INDEX deliveries_by_school ON deliveries (school_id, created_at);
