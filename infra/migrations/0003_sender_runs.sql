-- The sender's place in a campaign. A run is started by a send/resume request
-- (its event id); chunks of a run are numbered; the lease is taken by whoever
-- executes the current chunk and every claim must hold it, so a sender that
-- lost its broker connection stops at its next claim when another takes over.
ALTER TABLE email_campaigns
    ADD COLUMN sender_run   uuid,
    ADD COLUMN sender_chunk integer NOT NULL DEFAULT 0,
    ADD COLUMN sender_lease uuid;

-- Daily cap: our own attempted sends in the last 24 hours.
CREATE INDEX email_sends_attempted_idx ON email_sends (attempted_at) WHERE attempted_at IS NOT NULL;
