-- A post's attachments, each with the revision that added it (projected from
-- PostSubmitted): readers get those of the approved revision and before.
ALTER TABLE attachments
    ADD COLUMN post_id       uuid,
    ADD COLUMN post_revision integer;
CREATE INDEX attachments_by_post ON attachments (post_id) WHERE post_id IS NOT NULL;
