-- Uploaded files (the bytes are in the attachment store: src/attachments/), and
-- the message each is attached to, projected from MessagePosted. An upload is its
-- uploader's alone until attached.
CREATE TABLE attachments (
    id                  uuid PRIMARY KEY,
    district_id         uuid NOT NULL,
    school_id           uuid NOT NULL,
    uploaded_by         uuid NOT NULL,
    file_name           text NOT NULL,
    content_type        text NOT NULL,
    size                bigint NOT NULL,
    sha256              text NOT NULL,
    has_thumbnail       boolean NOT NULL,
    uploaded_at         timestamptz NOT NULL DEFAULT now(),
    message_id          uuid,
    conversation_id     uuid
);
CREATE INDEX attachments_by_message ON attachments (message_id) WHERE message_id IS NOT NULL;
