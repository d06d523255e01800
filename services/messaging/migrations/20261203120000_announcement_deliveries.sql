-- Announcements beyond the app (src/delivery/): an emergency goes out at once and
-- by SMS while unread; the others by push and email after quiet hours or in the
-- daily digest. A delivery is of an absence notice (kind 1) or an announcement
-- (kind 2); a district's announcement is counted against each recipient's school.
ALTER TABLE announcements ADD COLUMN emergency boolean NOT NULL DEFAULT false;
ALTER TABLE deliveries ADD COLUMN kind smallint NOT NULL DEFAULT 1;
