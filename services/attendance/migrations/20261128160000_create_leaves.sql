-- Leave requests, and the marks they excuse.

CREATE TABLE leaves (
    id           uuid PRIMARY KEY,
    student_id   uuid NOT NULL,
    class_id     uuid NOT NULL,
    school_id    uuid NOT NULL,
    district_id  uuid NOT NULL,
    from_date    date NOT NULL,
    to_date      date NOT NULL CHECK (to_date >= from_date),
    -- Session numbers (1 morning, 2 afternoon) covered on each day.
    sessions     smallint[] NOT NULL,
    reason       text NOT NULL,
    status       text NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    requested_by uuid NOT NULL,
    decided_by   uuid,
    comment      text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX leaves_by_class ON leaves (class_id, created_at);
CREATE INDEX leaves_by_student ON leaves (student_id, from_date);

ALTER TABLE marks ADD COLUMN leave_id uuid REFERENCES leaves (id);
