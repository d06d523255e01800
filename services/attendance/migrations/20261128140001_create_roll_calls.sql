-- Roll calls and their marks: the read model the RPCs answer from, written in the
-- same transaction as the roll call's events.

CREATE TABLE roll_calls (
    class_id     uuid NOT NULL,
    date         date NOT NULL,
    session      smallint NOT NULL,
    school_id    uuid NOT NULL,
    district_id  uuid NOT NULL,
    taken_at     timestamptz NOT NULL,
    submitted_at timestamptz NOT NULL DEFAULT now(),
    submitted_by uuid NOT NULL,
    version      bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (class_id, date, session)
);

CREATE TABLE marks (
    class_id   uuid NOT NULL,
    date       date NOT NULL,
    session    smallint NOT NULL,
    student_id uuid NOT NULL,
    status     smallint NOT NULL,
    note       text NOT NULL DEFAULT '',
    PRIMARY KEY (class_id, date, session, student_id),
    FOREIGN KEY (class_id, date, session) REFERENCES roll_calls (class_id, date, session)
);
