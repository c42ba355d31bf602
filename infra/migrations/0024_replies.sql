-- Replies (issue 17): mail received through SES, matched to its prospect and send.

-- The token in a send's Reply-To (local+TOKEN@REPLY_DOMAIN): unguessable, not the
-- unsubscribe token, set at the claim when REPLY_DOMAIN is.
ALTER TABLE email_sends ADD COLUMN reply_token text CHECK (reply_token IS NULL OR length(reply_token) >= 20);
CREATE UNIQUE INDEX email_sends_reply_token_key ON email_sends (reply_token) WHERE reply_token IS NOT NULL;

-- One row per mail SES received for us (its SES message id: a redelivery is the same row).
-- event-ingest writes it: the webhook stores the notification (and the content when it
-- came inline), the processing fills in the rest. `raw`: the whole message as received,
-- for forwarding as an attachment and for the admin's view; from S3 it is then deleted
-- there, so an erasure deletes the only copy (the bucket's lifecycle rule is the backstop).
CREATE TABLE inbound_mail (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    ses_message_id   text NOT NULL UNIQUE,
    sns_message_id   text NOT NULL,
    received_at      timestamptz NOT NULL,
    stored_at        timestamptz NOT NULL DEFAULT now(),
    notification     jsonb NOT NULL,
    s3_bucket        text,
    s3_key           text,
    raw              bytea,
    processed_at     timestamptz,
    problem          text,
    -- What processing found:
    flagged          text CHECK (flagged IN ('spam', 'virus')),
    classification   text CHECK (classification IN ('reply', 'auto_reply', 'bounce', 'unsubscribe_request')),
    match_method     text CHECK (match_method IN ('token', 'thread', 'sender')),
    send_id          uuid REFERENCES email_sends (id) ON DELETE SET NULL,
    prospect_id      uuid REFERENCES prospects (id) ON DELETE CASCADE,
    campaign_id      uuid REFERENCES email_campaigns (id) ON DELETE SET NULL,
    step             smallint,
    from_address     text,
    from_name        text,
    subject          text,
    headers          jsonb,
    text_body        text,
    html_body        text,
    attachments      jsonb,
    size_bytes       integer,
    handled_at       timestamptz,
    handled_by       text
);
CREATE INDEX inbound_mail_listing_idx ON inbound_mail (received_at DESC, id DESC);
CREATE INDEX inbound_mail_campaign_idx ON inbound_mail (campaign_id, received_at DESC);
CREATE INDEX inbound_mail_prospect_idx ON inbound_mail (prospect_id);
CREATE INDEX inbound_mail_unhandled_idx ON inbound_mail (received_at) WHERE handled_at IS NULL;
CREATE INDEX inbound_mail_from_idx ON inbound_mail (lower(from_address));

-- A stop after an automatic answer, for campaigns whose stop_on asks for it.
ALTER TABLE sequence_stops DROP CONSTRAINT sequence_stops_reason_check;
ALTER TABLE sequence_stops ADD CONSTRAINT sequence_stops_reason_check
    CHECK (reason IN ('reply', 'auto_reply', 'unsubscribe', 'complaint', 'bounce', 'click', 'open', 'manual'));

-- An unsubscribe asked for in a reply ("remove me") is an opt-out like the link's.
ALTER TABLE unsubscribes DROP CONSTRAINT unsubscribes_source_check;
ALTER TABLE unsubscribes ADD CONSTRAINT unsubscribes_source_check
    CHECK (source IN ('one_click', 'form', 'complaint', 'admin', 'reply'));

-- Forwarding a reply to the campaign's owner, crash-safe like a send: claimed (committed)
-- before SES is called, never twice; `unknown` when the process died in between.
CREATE TABLE reply_forwards (
    inbound_id     uuid PRIMARY KEY REFERENCES inbound_mail (id) ON DELETE CASCADE,
    forward_to     text NOT NULL,
    outcome        text NOT NULL DEFAULT 'pending'
                   CHECK (outcome IN ('pending', 'claimed', 'sent', 'failed', 'unknown')),
    ses_message_id text,
    error          text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    claimed_at     timestamptz,
    attempted_at   timestamptz
);
CREATE INDEX reply_forwards_open_idx ON reply_forwards (created_at) WHERE outcome IN ('pending', 'claimed');
