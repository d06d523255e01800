-- The directory as reports need it, projected from identity's events.

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
    full_name    text NOT NULL,
    birth_date   text NOT NULL,
    external_ref text NOT NULL
);

-- See kernel::enrolments: a student is in the class on [from_date, to_date).
CREATE TABLE enrolment_periods (
    student_id  uuid NOT NULL,
    class_id    uuid NOT NULL,
    school_year text NOT NULL,
    from_date   date NOT NULL,
    to_date     date,
    PRIMARY KEY (student_id, class_id, from_date)
);

CREATE TABLE staff (
    id          uuid PRIMARY KEY,
    school_id   uuid NOT NULL,
    district_id uuid NOT NULL
);

CREATE TABLE guardianships (
    guardian_id uuid NOT NULL,
    student_id  uuid NOT NULL,
    PRIMARY KEY (student_id, guardian_id)
);

CREATE TABLE accounts (
    id        uuid PRIMARY KEY,
    person_id uuid NOT NULL,
    activated boolean NOT NULL DEFAULT false
);

-- At most one row per person and local date (identity publishes one sign-in a day).
CREATE TABLE sign_ins (
    person_id uuid NOT NULL,
    date      date NOT NULL,
    PRIMARY KEY (person_id, date)
);
