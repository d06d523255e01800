-- Identity's directory as the sync service needs it, projected from identity's
-- public events (school/src/directory.rs, directory.rs): who belongs to which
-- district and school, and the source's codes of schools, classes and students
-- (the month-end push names them by those codes).
CREATE TABLE districts (
    id           uuid PRIMARY KEY,
    external_ref text NOT NULL DEFAULT ''
);

CREATE TABLE schools (
    id           uuid PRIMARY KEY,
    district_id  uuid NOT NULL,
    name         text NOT NULL DEFAULT '',
    external_ref text NOT NULL DEFAULT ''
);
CREATE INDEX schools_by_district ON schools (district_id);

CREATE TABLE classes (
    id                  uuid PRIMARY KEY,
    school_id           uuid NOT NULL,
    district_id         uuid NOT NULL,
    name                text NOT NULL DEFAULT '',
    grade               integer NOT NULL DEFAULT 0,
    school_year         text NOT NULL,
    homeroom_teacher_id uuid,
    external_ref        text NOT NULL DEFAULT ''
);
CREATE INDEX classes_by_school ON classes (school_id);

CREATE TABLE enrolment_periods (
    student_id  uuid NOT NULL,
    class_id    uuid NOT NULL,
    school_year text NOT NULL,
    from_date   date NOT NULL,
    to_date     date,
    PRIMARY KEY (student_id, class_id, from_date)
);
CREATE INDEX enrolment_periods_by_class ON enrolment_periods (class_id, from_date);

CREATE TABLE guardianships (
    guardian_id uuid NOT NULL,
    student_id  uuid NOT NULL,
    PRIMARY KEY (guardian_id, student_id)
);

CREATE TABLE students (
    id           uuid PRIMARY KEY,
    school_id    uuid NOT NULL,
    external_ref text NOT NULL DEFAULT ''
);

-- A sync run: its scope, what it planned and applied, how it ended.
CREATE TABLE sync_runs (
    id              uuid PRIMARY KEY,
    -- NULL while the unit of the source is no district yet (the operator's first run).
    district_id     uuid,
    school_id       uuid,
    unit_code       text NOT NULL,
    -- 'citydb', or 'file:<name>' for a file of the drop directory.
    source          text NOT NULL DEFAULT 'citydb',
    mode            text NOT NULL CHECK (mode IN ('full', 'incremental')),
    dry_run         boolean NOT NULL,
    state           text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'completed', 'failed')),
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    started_by      uuid,
    planned         jsonb NOT NULL DEFAULT '{}',
    applied         jsonb NOT NULL DEFAULT '{}',
    row_error_count bigint NOT NULL DEFAULT 0,
    failure         text NOT NULL DEFAULT '',
    -- The replica carrying the run out holds it until then; a run whose replica
    -- died is taken over once it lapses (runs.rs).
    lease_until     timestamptz
);
CREATE INDEX sync_runs_by_district ON sync_runs (district_id, started_at DESC);
CREATE INDEX sync_runs_running ON sync_runs (started_at) WHERE state = 'running';

-- A run's plan, in the order it is applied. Its details name people: they are
-- kept for `SYNC_KEEP_PLANS_FOR` (runs.rs), then deleted with their row errors;
-- the run and its counts stay.
CREATE TABLE sync_changes (
    run_id       uuid NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    seq          integer NOT NULL,
    kind         text NOT NULL,
    external_ref text NOT NULL,
    school_ref   text NOT NULL DEFAULT '',
    class_ref    text NOT NULL DEFAULT '',
    detail       text NOT NULL DEFAULT '',
    status       text NOT NULL DEFAULT 'planned' CHECK (status IN ('planned', 'applied', 'refused')),
    refusal      text NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, seq)
);

CREATE TABLE sync_row_errors (
    run_id       uuid NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    seq          integer NOT NULL,
    school_ref   text NOT NULL DEFAULT '',
    source       text NOT NULL,
    line         integer NOT NULL DEFAULT 0,
    column_name  text NOT NULL DEFAULT '',
    external_ref text NOT NULL DEFAULT '',
    message      text NOT NULL,
    PRIMARY KEY (run_id, seq)
);

-- How far into each unit's change feed the mirror has read: an incremental run
-- reads on from there; a full run, which reads everything, moves it too.
CREATE TABLE sync_cursors (
    unit_code  text PRIMARY KEY,
    last_seq   bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Where lienlac and the source disagreed when a run compared them (plan/drift.rs);
-- kept and deleted with the run's plan.
CREATE TABLE sync_drift (
    run_id       uuid NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    seq          integer NOT NULL,
    school_ref   text NOT NULL DEFAULT '',
    kind         text NOT NULL,
    entity       text NOT NULL,
    external_ref text NOT NULL,
    detail       text NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, seq)
);

-- Each class's month-end totals on their way to the city database (push/): the
-- latest close of the month, sent under its event's id as the idempotency key.
CREATE TABLE month_pushes (
    class_id   uuid NOT NULL,
    month      text NOT NULL,
    school_id  uuid NOT NULL,
    close_id   uuid NOT NULL,
    amended    boolean NOT NULL,
    totals     jsonb NOT NULL,
    state      text NOT NULL CHECK (state IN ('pending', 'sent', 'refused', 'reopened')),
    attempts   integer NOT NULL DEFAULT 0,
    next_at    timestamptz NOT NULL DEFAULT now(),
    reason     text NOT NULL DEFAULT '',
    sent_at    timestamptz,
    PRIMARY KEY (class_id, month)
);
CREATE INDEX month_pushes_due ON month_pushes (next_at) WHERE state = 'pending';

-- Term results imported from the city database (term_results/), for the report
-- cards: each student's levels and scores, and the teacher's comment (which is
-- not published).
CREATE TABLE term_results (
    student_id  uuid NOT NULL,
    school_year text NOT NULL,
    term        integer NOT NULL CHECK (term IN (1, 2)),
    class_id    uuid NOT NULL,
    result      jsonb NOT NULL,
    comment     text NOT NULL DEFAULT '',
    imported_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (student_id, school_year, term)
);
CREATE INDEX term_results_by_class ON term_results (class_id, school_year, term);
