-- An announcement's classification (who besides its recipients reads it) and the
-- class of a class's announcement. Announcements published before had none: only
-- their recipients read them, which is what confidential says.
ALTER TABLE announcements
    ADD COLUMN classification text NOT NULL DEFAULT 'CLASSIFICATION_CONFIDENTIAL',
    ADD COLUMN class_id uuid;
ALTER TABLE announcements ALTER COLUMN classification DROP DEFAULT;
