-- An announcement's attachments (projected from AnnouncementPublished).
ALTER TABLE attachments ADD COLUMN announcement_id uuid;
CREATE INDEX attachments_by_announcement ON attachments (announcement_id) WHERE announcement_id IS NOT NULL;
