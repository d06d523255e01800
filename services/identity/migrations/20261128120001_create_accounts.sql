-- Accounts, credentials, role bindings, refresh tokens and signing keys.
-- Credentials live only here: no event carries a password, code or token.

CREATE TABLE accounts (
    id                    uuid PRIMARY KEY,
    -- NULL only for the platform operator.
    person_id             uuid UNIQUE REFERENCES people (id),
    username              text NOT NULL UNIQUE,
    status                text NOT NULL CHECK (status IN ('issued', 'active')),
    password_hash         text,
    activation_code_hash  bytea,
    activation_expires_at timestamptz,
    failed_logins         integer NOT NULL DEFAULT 0,
    -- Locked by failed logins until this time, or by an administrator (below).
    locked_until          timestamptz,
    locked_by_admin       boolean NOT NULL DEFAULT false,
    -- The local date of the last AccountSignedIn event.
    last_sign_in_date     date,
    district_id           uuid REFERENCES districts (id),
    school_id             uuid REFERENCES schools (id),
    created_at            timestamptz NOT NULL DEFAULT now()
);

-- Roles granted explicitly; homeroom-teacher, guardian and staff bindings are
-- derived from the directory when a token is issued.
CREATE TABLE role_bindings (
    account_id  uuid NOT NULL REFERENCES accounts (id),
    role        text NOT NULL,
    scope_kind  text NOT NULL,
    scope_id    uuid,
    district_id uuid,
    school_id   uuid,
    granted_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT role_bindings_unique UNIQUE NULLS NOT DISTINCT (account_id, role, scope_id)
);

-- Refresh tokens by SHA-256 of the token; a family is one sign-in's chain of rotations.
CREATE TABLE refresh_tokens (
    token_hash  bytea PRIMARY KEY,
    family_id   uuid NOT NULL,
    account_id  uuid NOT NULL REFERENCES accounts (id),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    revoked_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_by_account ON refresh_tokens (account_id);

-- Public keys that have signed access tokens; a retired key stays in the JWKS
-- until the tokens it signed have expired.
CREATE TABLE signing_keys (
    kid          text PRIMARY KEY,
    public_key   bytea NOT NULL,
    activated_at timestamptz NOT NULL DEFAULT now(),
    retired_at   timestamptz
);
