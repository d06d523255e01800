-- When a scheduled announcement was shown (AnnouncementShown, written by
-- src/announcements/schedule.rs once its time comes); an announcement shown at
-- once is shown when published.
ALTER TABLE announcements ADD COLUMN shown_at timestamptz;
-- Those written before are shown by now if their time has passed: none comes out
-- again (src/write_model.rs projects their events the same way on a rebuild).
UPDATE announcements SET shown_at = visible_at WHERE visible_at <= now();
CREATE INDEX announcements_to_show ON announcements (visible_at) WHERE shown_at IS NULL;
