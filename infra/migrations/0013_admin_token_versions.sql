-- Sign-out and a new password revoke an admin's tokens at once: every token this
-- service mints carries the admin's token_version ("ver"), and one whose version is
-- not the current one is refused. Tokens minted before carry none: they stop working.
ALTER TABLE admin_users ADD COLUMN token_version integer NOT NULL DEFAULT 1 CHECK (token_version >= 1);
