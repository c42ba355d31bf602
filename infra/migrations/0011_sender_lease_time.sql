-- When the sender last took or handed on a chunk of the campaign (its lease). A
-- campaign `sending` with no lease taken for longer than SENDER_LEASE_SECONDS and
-- no claim in that time has lost its work (a dead-lettered chunk, a message lost
-- with a broker): the admin's Send and the sender's watch ask for it again.
ALTER TABLE email_campaigns ADD COLUMN sender_lease_at timestamptz;
UPDATE email_campaigns SET sender_lease_at = updated_at WHERE sender_lease IS NOT NULL;
