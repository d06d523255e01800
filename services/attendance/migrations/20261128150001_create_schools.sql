-- Schools as attendance knows them (from SchoolCreated), to authorise school-wide calls.
CREATE TABLE schools (
    id          uuid PRIMARY KEY,
    district_id uuid NOT NULL
);
