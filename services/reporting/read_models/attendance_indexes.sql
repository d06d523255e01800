-- The indexes of the attendance read model: created with its tables for a new read
-- model, and after the replay for a rebuild (building an index once is faster than
-- keeping it up to date through a million inserts).

CREATE UNIQUE INDEX IF NOT EXISTS roll_calls_key ON roll_calls (class_id, date, session);
CREATE UNIQUE INDEX IF NOT EXISTS marks_key ON marks (class_id, date, session, student_id);
CREATE INDEX IF NOT EXISTS roll_calls_by_school ON roll_calls (school_id, date);
CREATE INDEX IF NOT EXISTS roll_calls_by_district ON roll_calls (district_id, date);
CREATE INDEX IF NOT EXISTS marks_by_student ON marks (student_id, date);
