-- When a scheduled announcement was shown (AnnouncementShown, written by
-- src/announcements/schedule.rs once its time comes); an announcement shown at
-- once is shown when published.
ALTER TABLE announcements ADD COLUMN shown_at timestamptz;
UPDATE announcements SET shown_at = visible_at WHERE visible_at <= published_at;
CREATE INDEX announcements_to_show ON announcements (visible_at) WHERE shown_at IS NULL;
