-- The directory: districts, schools, classes, people, enrolments and guardianships.
-- These tables are the identity service's read model, written in the same
-- transaction as the events that describe each change.

CREATE TABLE districts (
    id           uuid PRIMARY KEY,
    name         text NOT NULL,
    external_ref text NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE schools (
    id           uuid PRIMARY KEY,
    district_id  uuid NOT NULL REFERENCES districts (id),
    name         text NOT NULL,
    external_ref text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT schools_external_ref_unique UNIQUE (district_id, external_ref)
);

CREATE TABLE people (
    id           uuid PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('student', 'staff', 'guardian')),
    district_id  uuid NOT NULL REFERENCES districts (id),
    -- A student's or staff member's school; NULL for guardians.
    school_id    uuid REFERENCES schools (id),
    full_name    text NOT NULL,
    -- Lowercase, without diacritics: what search matches against.
    name_folded  text NOT NULL,
    birth_date   date,
    gender       smallint NOT NULL DEFAULT 0,
    phone        text,
    position     text,
    external_ref text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'guardian') = (school_id IS NULL))
);
CREATE UNIQUE INDEX people_student_ref_unique ON people (district_id, external_ref) WHERE kind = 'student';
CREATE UNIQUE INDEX people_guardian_phone_unique ON people (district_id, phone) WHERE kind = 'guardian';
CREATE UNIQUE INDEX people_staff_phone_unique ON people (school_id, phone) WHERE kind = 'staff';
CREATE INDEX people_by_school ON people (school_id, name_folded);

CREATE TABLE classes (
    id                  uuid PRIMARY KEY,
    school_id           uuid NOT NULL REFERENCES schools (id),
    district_id         uuid NOT NULL REFERENCES districts (id),
    name                text NOT NULL,
    grade               integer NOT NULL CHECK (grade BETWEEN 1 AND 12),
    school_year         text NOT NULL,
    homeroom_teacher_id uuid REFERENCES people (id),
    created_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT classes_name_unique UNIQUE (school_id, school_year, name)
);
CREATE INDEX classes_by_homeroom_teacher ON classes (homeroom_teacher_id);

-- A student's class in a school year; a transfer moves it, a withdrawal ends it.
CREATE TABLE enrolments (
    student_id  uuid NOT NULL REFERENCES people (id),
    school_year text NOT NULL,
    class_id    uuid NOT NULL REFERENCES classes (id),
    active      boolean NOT NULL DEFAULT true,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (student_id, school_year)
);
CREATE INDEX enrolments_by_class ON enrolments (class_id) WHERE active;

CREATE TABLE guardianships (
    guardian_id uuid NOT NULL REFERENCES people (id),
    student_id  uuid NOT NULL REFERENCES people (id),
    relation    smallint NOT NULL,
    PRIMARY KEY (guardian_id, student_id)
);
CREATE INDEX guardianships_by_student ON guardianships (student_id);
