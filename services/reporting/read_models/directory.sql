-- The directory as reports need it, projected from identity's public events:
-- ids, codes and structure, never a person's name or birth date (reports ask
-- identity for the names their reader may see, services/reporting/src/names.rs).

CREATE TABLE districts (
    id   uuid PRIMARY KEY,
    name text NOT NULL
);

CREATE TABLE schools (
    id          uuid PRIMARY KEY,
    district_id uuid NOT NULL,
    name        text NOT NULL
);

CREATE TABLE classes (
    id                  uuid PRIMARY KEY,
    school_id           uuid NOT NULL,
    district_id         uuid NOT NULL,
    name                text NOT NULL,
    grade               integer NOT NULL,
    school_year         text NOT NULL,
    homeroom_teacher_id uuid
);

CREATE TABLE students (
    id           uuid PRIMARY KEY,
    school_id    uuid NOT NULL,
    district_id  uuid NOT NULL,
    external_ref text NOT NULL
);

-- See kernel::enrolments: a student is in the class on [from_date, to_date).
CREATE TABLE enrolment_periods (
    student_id  uuid NOT NULL,
    class_id    uuid NOT NULL,
    school_year text NOT NULL,
    from_date   date NOT NULL,
    to_date     date,
    -- The student's guardians who have no other child (`guardianships.shared`),
    -- and how many of them are activated: the same on every period of a student,
    -- so that guardians are counted without de-duplicating them (see adoption.rs).
    guardians           integer NOT NULL DEFAULT 0,
    guardians_activated integer NOT NULL DEFAULT 0,
    PRIMARY KEY (student_id, class_id, from_date)
);

-- `accounts` and `activated` follow the staff member's accounts, so that the
-- adoption report counts staff with an account without looking each one up.
CREATE TABLE staff (
    id          uuid PRIMARY KEY,
    school_id   uuid NOT NULL,
    district_id uuid NOT NULL,
    accounts    integer NOT NULL DEFAULT 0,
    activated   boolean NOT NULL DEFAULT false
);

CREATE TABLE guardianships (
    guardian_id uuid NOT NULL,
    student_id  uuid NOT NULL,
    -- Some account of the guardian is activated.
    activated   boolean NOT NULL DEFAULT false,
    -- The guardian has more than one child: counted with DISTINCT in reports.
    shared      boolean NOT NULL DEFAULT false,
    PRIMARY KEY (student_id, guardian_id)
);
-- The projection finds a guardian's children by it.
CREATE INDEX guardianships_by_guardian ON guardianships (guardian_id);

CREATE TABLE accounts (
    id        uuid PRIMARY KEY,
    person_id uuid NOT NULL,
    activated boolean NOT NULL DEFAULT false
);
CREATE INDEX accounts_by_person ON accounts (person_id);

-- At most one row per person and local date (identity publishes one sign-in a day).
CREATE TABLE sign_ins (
    person_id uuid NOT NULL,
    date      date NOT NULL,
    PRIMARY KEY (person_id, date)
);
