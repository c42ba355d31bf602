-- Every SES event payload as it arrived, once. The EventBridge id is the key of a
-- delivery; the dedupe key (message id, type, recipient, the event's own time
-- or feedback id) catches the same SES event under a second envelope id.
CREATE TABLE ses_events_raw (
    eventbridge_id text PRIMARY KEY,
    dedupe_key     text UNIQUE,
    detail_type    text NOT NULL,
    event_type     text,
    ses_message_id text,
    event_id       uuid,            -- the domain event appended for it, if any
    matched        boolean NOT NULL DEFAULT false,  -- tied to a send of ours
    payload        jsonb NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ses_events_raw_message_idx ON ses_events_raw (ses_message_id);
CREATE INDEX ses_events_raw_unmatched_idx ON ses_events_raw (received_at) WHERE NOT matched;

-- Bodies the webhook refused (400), kept for the operator.
CREATE TABLE rejected_payloads (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source       text NOT NULL,
    reason       text NOT NULL,
    content_type text,
    body         bytea NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rejected_payloads_received_idx ON rejected_payloads (received_at);
