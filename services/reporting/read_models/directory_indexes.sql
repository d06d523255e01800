-- The secondary indexes of the directory read model: created with its tables for a
-- new read model, and after the replay for a rebuild (building an index once is
-- faster than keeping it up to date through a million inserts).

CREATE INDEX IF NOT EXISTS schools_by_district ON schools (district_id);
CREATE INDEX IF NOT EXISTS classes_by_school ON classes (school_id);
CREATE INDEX IF NOT EXISTS classes_by_district ON classes (district_id);
CREATE INDEX IF NOT EXISTS enrolment_periods_by_class ON enrolment_periods (class_id, from_date);
CREATE INDEX IF NOT EXISTS staff_by_school ON staff (school_id);
CREATE INDEX IF NOT EXISTS staff_by_district ON staff (district_id);
CREATE INDEX IF NOT EXISTS guardianships_shared ON guardianships (student_id) WHERE shared;
