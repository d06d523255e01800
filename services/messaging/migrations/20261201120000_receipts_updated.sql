-- Announcements whose guardians' delivery, reading or confirming changed since
-- their last ReceiptsUpdated (src/announcements/receipts.rs reports and removes
-- them), and the counts that event last reported, projected onto the announcement.
CREATE TABLE receipts_changed (
    announcement_id uuid PRIMARY KEY
);

ALTER TABLE announcements
    ADD COLUMN reported_delivered    bigint NOT NULL DEFAULT 0,
    ADD COLUMN reported_read         bigint NOT NULL DEFAULT 0,
    ADD COLUMN reported_acknowledged bigint NOT NULL DEFAULT 0;
