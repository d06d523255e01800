-- Attendance as reports need it, projected from attendance's events. The keys of
-- `roll_calls` and `marks` are unique indexes, built with the secondary ones: a
-- rebuild loads the tables bare and indexes them once.

-- One row per roll call with its counts by status.
CREATE TABLE roll_calls (
    class_id         uuid NOT NULL,
    date             date NOT NULL,
    session          smallint NOT NULL,
    school_id        uuid NOT NULL,
    district_id      uuid NOT NULL,
    submitted_at     timestamptz NOT NULL,
    present          integer NOT NULL,
    absent_excused   integer NOT NULL,
    absent_unexcused integer NOT NULL,
    late             integer NOT NULL
);

-- Only the marks other than present: a student of a roll call without a row here
-- was present. `status` is attendance.v1.AttendanceStatus.
CREATE TABLE marks (
    class_id   uuid NOT NULL,
    date       date NOT NULL,
    session    smallint NOT NULL,
    student_id uuid NOT NULL,
    status     smallint NOT NULL
);

CREATE TABLE closures (
    school_id uuid NOT NULL,
    from_date date NOT NULL,
    to_date   date NOT NULL,
    PRIMARY KEY (school_id, from_date, to_date)
);

-- Corrections met during a rebuild's replay, applied together once the keys are
-- indexed; empty otherwise. `sequence` orders a roll call's events.
CREATE TABLE replayed_corrections (
    class_id   uuid NOT NULL,
    date       date NOT NULL,
    session    smallint NOT NULL,
    student_id uuid NOT NULL,
    status     smallint NOT NULL,
    sequence   bigint NOT NULL
);
