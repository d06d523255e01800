-- Absence notices to guardians (src/notices/), kept from attendance's public
-- events by the consumer `messaging-attendance`, with the leaves that excuse
-- absences.
CREATE TABLE leaves (
    id         uuid PRIMARY KEY,
    student_id uuid NOT NULL,
    from_date  date NOT NULL,
    to_date    date NOT NULL,
    -- attendance's Session numbers.
    sessions   smallint[] NOT NULL,
    approved   boolean NOT NULL DEFAULT false
);
CREATE INDEX leaves_by_student ON leaves (student_id, from_date);

CREATE TABLE absence_notices (
    id           uuid PRIMARY KEY,
    -- The event that raised it: one notice per event and guardian, however often
    -- the event is delivered or replayed.
    source_event uuid NOT NULL,
    guardian_id  uuid NOT NULL,
    student_id   uuid NOT NULL,
    class_id     uuid NOT NULL,
    date         date NOT NULL,
    -- attendance's Session and AttendanceStatus numbers.
    session      smallint NOT NULL,
    status       smallint NOT NULL,
    -- A follow-up's: the notice it follows.
    follows      uuid,
    created_at   timestamptz NOT NULL,
    delivered_at timestamptz,
    read_at      timestamptz,
    withdrawn_at timestamptz,
    UNIQUE (source_event, guardian_id)
);
CREATE INDEX absence_notices_by_guardian ON absence_notices (guardian_id, created_at DESC, id DESC);
CREATE INDEX absence_notices_by_session ON absence_notices (student_id, date, session);
