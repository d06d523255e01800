-- Announcements (projected from AnnouncementPublished, src/write_model.rs), and
-- each one's recipients: the guardians of the audience's students when it was
-- published, written by the command itself (a resolved audience of up to a whole
-- district is no event's payload), with each guardian's own delivery state.
CREATE TABLE announcements (
    id                uuid PRIMARY KEY,
    district_id       uuid NOT NULL,
    -- Empty for a district's announcement.
    school_id         uuid,
    audience          jsonb NOT NULL,
    title             text NOT NULL,
    body              text NOT NULL,
    requires_ack      boolean NOT NULL,
    author_account_id uuid NOT NULL,
    published_at      timestamptz NOT NULL,
    visible_at        timestamptz NOT NULL,
    recipients        bigint NOT NULL
);

CREATE TABLE announcement_recipients (
    announcement_id uuid NOT NULL,
    guardian_id     uuid NOT NULL,
    visible_at      timestamptz NOT NULL,
    delivered_at    timestamptz,
    read_at         timestamptz,
    acknowledged_at timestamptz,
    PRIMARY KEY (announcement_id, guardian_id)
);
CREATE INDEX announcement_recipients_by_guardian
    ON announcement_recipients (guardian_id, visible_at DESC, announcement_id DESC);
