-- API keys for scripts and integrations: `Authorization: Bearer ok_…`. Only the key's
-- sha256 is kept (a key is 32 random bytes: a plain hash cannot be reversed), with the
-- first characters for an operator to recognise it, its scopes, and when it was used.
CREATE TABLE api_keys (
    id            uuid PRIMARY KEY,
    name          text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    prefix        text NOT NULL,
    key_hash      bytea NOT NULL UNIQUE,
    scopes        text[] NOT NULL CHECK (cardinality(scopes) > 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
-- One live key per name; a revoked name may be used again.
CREATE UNIQUE INDEX api_keys_live_name_idx ON api_keys (name) WHERE revoked_at IS NULL;
