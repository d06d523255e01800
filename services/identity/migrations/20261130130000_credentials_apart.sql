-- Credentials and sign-in attempts, apart from the account. They are current
-- state only: no event carries a password, a code or their hashes, nor each
-- failed attempt. The accounts table is then projected from events alone
-- (src/write_model/), and a rebuild leaves these rows as they are.
CREATE TABLE credentials (
    account_id            uuid PRIMARY KEY REFERENCES accounts (id) DEFERRABLE INITIALLY DEFERRED,
    password_hash         text,
    activation_code_hash  bytea,
    activation_code_keyed boolean NOT NULL DEFAULT false,
    activation_expires_at timestamptz,
    failed_logins         integer NOT NULL DEFAULT 0,
    -- Locked by failed sign-ins until this time.
    locked_until          timestamptz
);
INSERT INTO credentials (account_id, password_hash, activation_code_hash, activation_code_keyed,
                         activation_expires_at, failed_logins, locked_until)
SELECT id, password_hash, activation_code_hash, activation_code_keyed, activation_expires_at,
       failed_logins, locked_until
FROM accounts;
ALTER TABLE accounts
    DROP COLUMN password_hash,
    DROP COLUMN activation_code_hash,
    DROP COLUMN activation_code_keyed,
    DROP COLUMN activation_expires_at,
    DROP COLUMN failed_logins,
    DROP COLUMN locked_until;
ALTER TABLE refresh_tokens ALTER CONSTRAINT refresh_tokens_account_id_fkey DEFERRABLE INITIALLY DEFERRED;
