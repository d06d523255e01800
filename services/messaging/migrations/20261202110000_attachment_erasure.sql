-- A guardian's uploads go with their personal data (docs/privacy.md): on
-- PersonalDataErased the row stays, marked and its file name blanked, and a
-- sweeper (src/attachments/purge.rs) deletes the bytes from the store.
ALTER TABLE attachments
    ADD COLUMN uploader_person_id uuid,
    ADD COLUMN erased_at timestamptz,
    ADD COLUMN purged_at timestamptz;
-- Uploads sent before: their message names the person who sent them.
UPDATE attachments a SET uploader_person_id = m.author_person_id
FROM messages m WHERE a.message_id = m.id AND a.uploaded_by = m.author_account_id;
CREATE INDEX attachments_by_uploader ON attachments (uploader_person_id)
    WHERE uploader_person_id IS NOT NULL;
CREATE INDEX attachments_to_purge ON attachments (erased_at)
    WHERE erased_at IS NOT NULL AND purged_at IS NULL;
