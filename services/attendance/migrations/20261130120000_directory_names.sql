-- The directory tables every service keeps the same way (school/src/directory.rs)
-- hold the names and grades of schools and classes.
ALTER TABLE schools ADD COLUMN name text NOT NULL DEFAULT '';
ALTER TABLE classes ADD COLUMN name text NOT NULL DEFAULT '';
ALTER TABLE classes ADD COLUMN grade integer NOT NULL DEFAULT 0;
-- Rows projected before this keep '' until the consumer attendance-directory replays.
