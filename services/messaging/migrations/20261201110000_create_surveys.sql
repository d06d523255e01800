-- Surveys (projected from SurveyCreated, src/write_model.rs); whom each reached
-- when it was created, one row per guardian, child and class, written by the
-- command itself as announcements' recipients are; and the answers, one per child
-- (per-child surveys) or per guardian, each guardian's own state outside the
-- events (a rebuild leaves recipients and answers).
CREATE TABLE surveys (
    id                uuid PRIMARY KEY,
    district_id       uuid NOT NULL,
    school_id         uuid NOT NULL,
    audience          jsonb NOT NULL,
    title             text NOT NULL,
    description       text NOT NULL,
    questions         jsonb NOT NULL,
    deadline          timestamptz,
    per_child         boolean NOT NULL,
    author_account_id uuid NOT NULL,
    created_at        timestamptz NOT NULL,
    guardians         bigint NOT NULL
);

CREATE TABLE survey_recipients (
    survey_id   uuid NOT NULL,
    guardian_id uuid NOT NULL,
    student_id  uuid NOT NULL,
    class_id    uuid NOT NULL,
    PRIMARY KEY (survey_id, guardian_id, student_id)
);
CREATE INDEX survey_recipients_by_guardian ON survey_recipients (guardian_id, survey_id);

-- `unit_id` is the child answered for, or the guardian for a survey not per child.
CREATE TABLE survey_answers (
    survey_id   uuid NOT NULL,
    unit_id     uuid NOT NULL,
    guardian_id uuid NOT NULL,
    answers     jsonb NOT NULL,
    answered_at timestamptz NOT NULL,
    PRIMARY KEY (survey_id, unit_id)
);
