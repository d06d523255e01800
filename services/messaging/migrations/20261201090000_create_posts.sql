-- Schools' publishing policies and their posts with every moderation decision,
-- projected from SchoolPolicySet, PostSubmitted, PostApproved and PostRejected
-- (src/write_model.rs). Classifications are stored by their protobuf names
-- (CLASSIFICATION_PUBLIC, _SCHOOL, _CLASS, _CONFIDENTIAL).

CREATE TABLE school_policies (
    school_id              uuid PRIMARY KEY,
    allowed                text[] NOT NULL,
    default_classification text NOT NULL,
    trusted_staff_ids      uuid[] NOT NULL,
    moderator_ids          uuid[] NOT NULL,
    public_feed            boolean NOT NULL,
    updated_at             timestamptz NOT NULL,
    updated_by             uuid NOT NULL
);

-- A post's latest revision, and the approved one its readers see (published_*,
-- NULL until a revision is approved).
CREATE TABLE posts (
    id                       uuid PRIMARY KEY,
    district_id              uuid NOT NULL,
    school_id                uuid NOT NULL,
    class_id                 uuid,
    author_account_id        uuid NOT NULL,
    author_person_id         uuid,
    status                   text NOT NULL CHECK (status IN ('pending', 'published', 'rejected')),
    revision                 integer NOT NULL,
    title                    text NOT NULL,
    body                     text NOT NULL,
    classification           text NOT NULL,
    recipients               uuid[] NOT NULL,
    submitted_at             timestamptz NOT NULL,
    published_revision       integer,
    published_title          text,
    published_body           text,
    published_classification text,
    published_recipients     uuid[],
    published_submitted_at   timestamptz,
    first_published_at       timestamptz
);
CREATE INDEX posts_published ON posts (school_id, first_published_at DESC, id DESC)
    WHERE first_published_at IS NOT NULL;
CREATE INDEX posts_pending ON posts (school_id, submitted_at, id) WHERE status = 'pending';
CREATE INDEX posts_by_author ON posts (author_account_id, submitted_at DESC, id DESC);

-- Every decision on a post: the audit of moderation (who, when, what, why).
CREATE TABLE post_decisions (
    post_id    uuid NOT NULL,
    revision   integer NOT NULL,
    approved   boolean NOT NULL,
    reason     text NOT NULL,
    decided_by uuid NOT NULL,
    decided_at timestamptz NOT NULL,
    automatic  boolean NOT NULL,
    PRIMARY KEY (post_id, revision)
);
