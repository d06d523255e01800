-- The city database mirror (services/sync) finds each entity by the source's
-- code: classes, staff and guardians carry one too (students always did). Staff
-- of the district office belong to the district and to no school.
ALTER TABLE classes ADD COLUMN external_ref text;
CREATE UNIQUE INDEX classes_external_ref_unique ON classes (school_id, external_ref);
CREATE UNIQUE INDEX people_staff_ref_unique ON people (district_id, external_ref) WHERE kind = 'staff';
CREATE UNIQUE INDEX people_guardian_ref_unique ON people (district_id, external_ref) WHERE kind = 'guardian';
CREATE UNIQUE INDEX people_district_staff_phone_unique ON people (district_id, phone)
    WHERE kind = 'staff' AND school_id IS NULL;

ALTER TABLE people DROP CONSTRAINT people_check;
ALTER TABLE people ADD CONSTRAINT people_school_by_kind
    CHECK (CASE kind WHEN 'student' THEN school_id IS NOT NULL
                     WHEN 'guardian' THEN school_id IS NULL
                     ELSE true END);

-- The school date a student's current class began, when it is not the start of
-- the school year: a transfer's effective date, or the day of a re-enrolment. A
-- later transfer or withdrawal may not take effect before it.
ALTER TABLE enrolments ADD COLUMN since date;
