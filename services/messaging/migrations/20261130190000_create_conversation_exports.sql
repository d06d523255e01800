-- Every export of a conversation's record (src/conversations/export.rs): who, which
-- conversation, when and why. Only added to.
CREATE TABLE conversation_exports (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id uuid NOT NULL,
    account_id      uuid NOT NULL,
    person_id       uuid,
    reason          text NOT NULL,
    messages        bigint NOT NULL,
    exported_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversation_exports_by_conversation ON conversation_exports (conversation_id);
