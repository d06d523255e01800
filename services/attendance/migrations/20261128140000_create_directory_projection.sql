-- What attendance knows of identity's directory, projected from identity's events
-- (consumer attendance-directory), so that it validates without calling identity.

CREATE TABLE classes (
    id                  uuid PRIMARY KEY,
    school_id           uuid NOT NULL,
    district_id         uuid NOT NULL,
    school_year         text NOT NULL,
    homeroom_teacher_id uuid
);

-- A student is in a class on the dates [from_date, to_date); to_date NULL while it lasts.
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
