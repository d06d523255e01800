-- The key download links are signed with (src/attachments/links.rs): made by the
-- first replica to start, shared by all through this one row.
CREATE TABLE download_link_key (
    only_one boolean PRIMARY KEY DEFAULT true CHECK (only_one),
    key      bytea NOT NULL
);
