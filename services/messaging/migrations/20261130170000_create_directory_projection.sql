-- Identity's directory as messaging needs it, projected from identity's public
-- events by the consumer messaging-directory (school/src/directory.rs): who is in
-- which class group and school staff group, and who leads a school.

CREATE TABLE schools (
    id          uuid PRIMARY KEY,
    district_id uuid NOT NULL,
    name        text NOT NULL DEFAULT ''
);

CREATE TABLE classes (
    id                  uuid PRIMARY KEY,
    school_id           uuid NOT NULL,
    district_id         uuid NOT NULL,
    name                text NOT NULL DEFAULT '',
    grade               integer NOT NULL DEFAULT 0,
    school_year         text NOT NULL,
    homeroom_teacher_id uuid
);
CREATE INDEX classes_by_school ON classes (school_id);
CREATE INDEX classes_by_homeroom_teacher ON classes (homeroom_teacher_id);

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
CREATE INDEX guardianships_by_student ON guardianships (student_id);

-- Staff of each school: the members of its staff group.
CREATE TABLE staff (
    id          uuid PRIMARY KEY,
    school_id   uuid NOT NULL,
    district_id uuid NOT NULL
);
CREATE INDEX staff_by_school ON staff (school_id);

-- Who leads which school (principal, vice principal, IT officer), from RoleGranted
-- and RoleRevoked: whom a guardian may write to, who may delete a message.
CREATE TABLE school_leaders (
    person_id uuid NOT NULL,
    school_id uuid NOT NULL,
    role      text NOT NULL,
    PRIMARY KEY (person_id, school_id, role)
);
