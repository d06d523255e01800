-- Timetables, meal menus and curriculum plans, one row per published version,
-- projected from BulletinPublished (src/write_model.rs). The version in force on a
-- day is the one with the latest effective date on or before it.
CREATE TABLE bulletins (
    id                  uuid PRIMARY KEY,
    kind                text NOT NULL,
    district_id         uuid NOT NULL,
    school_id           uuid NOT NULL,
    -- Timetables and curriculum plans; NULL for a school's menu.
    class_id            uuid,
    version             integer NOT NULL,
    effective_from      date NOT NULL,
    classification      text NOT NULL,
    -- The JSON of the Timetable, Menu or CurriculumPlan message.
    content             jsonb NOT NULL,
    published_by        uuid NOT NULL,
    published_by_person uuid,
    published_at        timestamptz NOT NULL,
    announcement_id     uuid NOT NULL
);
CREATE UNIQUE INDEX bulletins_versions ON bulletins (kind, coalesce(class_id, school_id), version);
CREATE INDEX bulletins_in_force ON bulletins (kind, coalesce(class_id, school_id), effective_from DESC, version DESC);
