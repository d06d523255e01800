-- Who read a student's personal data, when, in which role and through what: one
-- row per student and read, never the data itself (kernel/src/access_log.rs).
-- Rows are only added, and removed when older than the retention period.
CREATE TABLE data_access (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    student_id uuid NOT NULL,
    account_id uuid NOT NULL,
    person_id  uuid,
    -- The caller's roles that cover the student, such as {homeroom_teacher}.
    roles      text[] NOT NULL,
    -- The RPC that read, such as `reporting.ExportAttendance`.
    what       text NOT NULL,
    read_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX data_access_by_student ON data_access (student_id, read_at);
CREATE INDEX data_access_by_time ON data_access (read_at);
