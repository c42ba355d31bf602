-- Outreach's own admins, so it runs without an external identity provider.
-- Passwords are argon2id hashes (argon2-cffi's encoded form, parameters included).
CREATE TABLE admin_users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz
);
CREATE UNIQUE INDEX admin_users_email_key ON admin_users (lower(email));
