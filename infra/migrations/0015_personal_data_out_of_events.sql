-- Personal data out of the event store, and what erasure needs to find the rest.
--
-- From this version no event carries a recipient's address, IP address or user agent;
-- free texts that may quote an address (SMTP answers, diagnostics, links, reasons, SES
-- errors) have it replaced by <address>. The events stored before are rewritten once,
-- here, into the form the code now writes (version 2 of the per-message SES events:
-- shared.events.upcast_ses_v1 does the same to a version 1 body still in a queue). This
-- is the only time events are edited: the append-only trigger is off for this
-- transaction alone.

-- shared.addresses.ADDRESS_IN_TEXT_SQL (tests/integration/test_redaction.py keeps them equal).
CREATE FUNCTION pg_temp.redact(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT regexp_replace(t, '[^][:space:]<>()"'',;:@=&?/[]+(@|%40)[^][:space:]<>()"'',;:@=&?/[]+',
                          '<address>', 'g')
$$;

CREATE FUNCTION pg_temp.diagnostics(list jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT COALESCE(jsonb_agg(jsonb_build_object(
               'action', r -> 'action',
               'status', r -> 'status',
               'diagnostic_code', to_jsonb(pg_temp.redact(r ->> 'diagnostic_code')))), '[]'::jsonb)
    FROM jsonb_array_elements(CASE jsonb_typeof(list) WHEN 'array' THEN list ELSE '[]'::jsonb END) r
$$;

CREATE FUNCTION pg_temp.upcast_ses_v1(data jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT (SELECT jsonb_object_agg(key, CASE
                WHEN key IN ('smtp_response', 'link', 'reason', 'error_message') AND jsonb_typeof(value) = 'string'
                THEN to_jsonb(pg_temp.redact(value #>> '{}')) ELSE value END)
            FROM jsonb_each(data)
            WHERE key NOT IN ('recipients', 'complained_recipients', 'ip_address', 'user_agent',
                              'bounced_recipients', 'delayed_recipients'))
        || CASE WHEN data ? 'bounced_recipients' THEN jsonb_build_object('diagnostics', pg_temp.diagnostics(data -> 'bounced_recipients'))
                WHEN data ? 'delayed_recipients' THEN jsonb_build_object('diagnostics', pg_temp.diagnostics(data -> 'delayed_recipients'))
                ELSE '{}'::jsonb END
$$;

ALTER TABLE events DISABLE TRIGGER events_append_only;

UPDATE events SET version = 2, data = pg_temp.upcast_ses_v1(data)
WHERE version = 1 AND type IN ('ses.send', 'ses.delivery', 'ses.bounce', 'ses.complaint', 'ses.open',
                               'ses.click', 'ses.reject', 'ses.rendering_failure', 'ses.delivery_delay');

-- An SES error may quote the recipient (the sandbox's "identities failed the check: ...").
UPDATE events SET data = jsonb_set(data, '{error_message}', to_jsonb(pg_temp.redact(data ->> 'error_message')))
WHERE type = 'send.attempted' AND data ->> 'error_message' ~ '(@|%40)';
UPDATE events SET data = jsonb_set(data, '{reason}', to_jsonb(pg_temp.redact(data ->> 'reason')))
WHERE type = 'campaign.paused' AND data ->> 'reason' ~ '(@|%40)';

ALTER TABLE events ENABLE TRIGGER events_append_only;

-- The same texts where they were copied.
UPDATE email_sends SET error_message = pg_temp.redact(error_message) WHERE error_message ~ '(@|%40)';
UPDATE send_status SET error = pg_temp.redact(error) WHERE error ~ '(@|%40)';
UPDATE email_campaigns SET status_reason = pg_temp.redact(status_reason) WHERE status_reason ~ '(@|%40)';

-- Written and never read: a bare hash of the address that outlived the prospect's erasure.
ALTER TABLE unsubscribes DROP COLUMN email_hash;

-- Raw SES payloads hold the recipient in clear until retention deletes them; erasure
-- deletes a person's at once, found by the prospect their send (or their tag) names.
ALTER TABLE ses_events_raw ADD COLUMN prospect_id uuid;
UPDATE ses_events_raw r SET prospect_id = s.prospect_id
FROM email_sends s WHERE s.ses_message_id = r.ses_message_id AND s.prospect_id IS NOT NULL;
UPDATE ses_events_raw SET prospect_id = (payload #>> '{detail,mail,tags,prospect_id,0}')::uuid
WHERE prospect_id IS NULL
  AND payload #>> '{detail,mail,tags,prospect_id,0}' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
CREATE INDEX ses_events_raw_prospect_idx ON ses_events_raw (prospect_id) WHERE prospect_id IS NOT NULL;

-- The dedupe key loses its recipient part (message|type|recipient|marker -> message|type|marker):
-- our messages have one recipient, and the key is stored in clear. A key that would now
-- collide (a message to several recipients, not one of ours) is left NULL.
UPDATE ses_events_raw r SET dedupe_key = CASE
    WHEN EXISTS (SELECT 1 FROM ses_events_raw o
                 WHERE o.eventbridge_id < r.eventbridge_id AND o.dedupe_key IS NOT NULL
                   AND split_part(o.dedupe_key, '|', 1) = split_part(r.dedupe_key, '|', 1)
                   AND split_part(o.dedupe_key, '|', 2) = split_part(r.dedupe_key, '|', 2)
                   AND split_part(o.dedupe_key, '|', 4) = split_part(r.dedupe_key, '|', 4))
    THEN NULL
    ELSE split_part(dedupe_key, '|', 1) || '|' || split_part(dedupe_key, '|', 2) || '|' || split_part(dedupe_key, '|', 4)
    END
WHERE dedupe_key IS NOT NULL;

DROP FUNCTION pg_temp.upcast_ses_v1(jsonb);
DROP FUNCTION pg_temp.diagnostics(jsonb);
DROP FUNCTION pg_temp.redact(text);
