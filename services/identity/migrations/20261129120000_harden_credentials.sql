-- Activation codes are stored as an HMAC under a server secret (src/activation.rs).
-- Codes issued before keep their bare SHA-256 (keyed = false) until they expire.
ALTER TABLE accounts ADD COLUMN activation_code_keyed boolean NOT NULL DEFAULT false;

-- A sign-in (one refresh family) ends at a fixed time however often it is
-- refreshed; families from before end when their current token does.
ALTER TABLE refresh_tokens ADD COLUMN family_expires_at timestamptz;
UPDATE refresh_tokens SET family_expires_at = expires_at;
ALTER TABLE refresh_tokens ALTER COLUMN family_expires_at SET NOT NULL;
