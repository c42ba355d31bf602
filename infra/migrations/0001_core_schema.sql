-- Outreach core schema: write tables, event store, consumer tracking, read tables.

-- The suppression key of an address: sha256 of the lower-cased UTF-8 address.
-- The application computes the same value (shared.addresses.email_hash) when it
-- writes a prospect: as a generated column it cost 6 us a row on bulk imports.
-- This function is for SQL that needs it (erasure, audits, tests).
CREATE FUNCTION outreach_email_hash(email text) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT sha256(convert_to(lower(email), 'UTF8')) $$;

-- ---------------------------------------------------------------- prospects
CREATE TABLE prospects (
    -- The application assigns time-ordered UUIDv7 ids: index inserts land at the
    -- right edge instead of on a random page (bulk imports).
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- A monotonic order of arrival: the sender walks eligible prospects by it
    -- with a keyset cursor, so a batch costs the same at 1M rows as at 1K.
    seq          bigint GENERATED ALWAYS AS IDENTITY,
    email        text NOT NULL
                 CHECK (length(email) BETWEEN 3 AND 320 AND email !~ '[\r\n\s]' AND email LIKE '%_@_%'),
    email_hash   bytea NOT NULL CHECK (length(email_hash) = 32),
    first_name   text CHECK (length(first_name) <= 200),
    last_name    text CHECK (length(last_name) <= 200),
    company      text CHECK (length(company) <= 300),
    title        text CHECK (length(title) <= 300),
    attributes   jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(attributes) = 'object'),
    status       text NOT NULL DEFAULT 'active'
                 CHECK (status IN ('active', 'unsubscribed', 'bounced', 'complained')),
    status_reason text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
-- One prospect per mailbox, whatever the case of the address.
CREATE UNIQUE INDEX prospects_email_hash_key ON prospects (email_hash);
-- Listing newest first (UUIDv7 ids are time-ordered), optionally by status.
CREATE INDEX prospects_status_idx ON prospects (status, id);
-- The eligible walk: active prospects in arrival order.
CREATE INDEX prospects_active_seq_idx ON prospects (seq) WHERE status = 'active';

-- Addresses that must never be mailed again, by hash: survives the deletion of
-- the prospect row (personal data erased, opt-out kept).
CREATE TABLE suppressions (
    email_hash  bytea PRIMARY KEY,
    reason      text NOT NULL CHECK (reason IN ('unsubscribed', 'bounced', 'complained', 'manual')),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------- campaigns
CREATE TABLE email_campaigns (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    subject      text NOT NULL CHECK (length(subject) <= 998 AND subject !~ '[\r\n]'),
    body_html    text NOT NULL DEFAULT '',
    body_text    text NOT NULL DEFAULT '',
    from_email   text NOT NULL CHECK (from_email !~ '[\r\n]'),
    from_name    text CHECK (from_name !~ '[\r\n]'),
    reply_to     text CHECK (reply_to !~ '[\r\n]'),
    status       text NOT NULL DEFAULT 'draft'
                 CHECK (status IN ('draft', 'sending', 'paused', 'completed', 'cancelled')),
    status_reason text,
    -- Highest prospects.seq claimed so far: where the next batch starts.
    cursor_seq   bigint NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    completed_at timestamptz
);
CREATE INDEX email_campaigns_created_idx ON email_campaigns (created_at DESC);

-- ---------------------------------------------------------------- sends (the sender's claims)
CREATE TABLE email_sends (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    campaign_id      uuid REFERENCES email_campaigns (id) ON DELETE RESTRICT,
    prospect_id      uuid REFERENCES prospects (id) ON DELETE SET NULL,
    prospect_seq     bigint,
    -- The opaque, unguessable unsubscribe token of this message (>= 122 random bits).
    unsubscribe_token text NOT NULL UNIQUE CHECK (length(unsubscribe_token) >= 22),
    -- claimed: committed before the SES call; sent / failed: SES answered;
    -- unknown: the process died or the answer was ambiguous. Never re-sent.
    outcome          text NOT NULL DEFAULT 'claimed'
                     CHECK (outcome IN ('claimed', 'sent', 'failed', 'unknown')),
    ses_message_id   text UNIQUE,
    error_code       text,
    error_message    text,
    claimed_at       timestamptz NOT NULL DEFAULT now(),
    attempted_at     timestamptz
);
-- At most one message per (campaign, prospect), ever.
CREATE UNIQUE INDEX email_sends_campaign_prospect_key
    ON email_sends (campaign_id, prospect_id) WHERE campaign_id IS NOT NULL;
CREATE INDEX email_sends_campaign_outcome_idx ON email_sends (campaign_id, outcome);

-- ---------------------------------------------------------------- unsubscribes (audit)
CREATE TABLE unsubscribes (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id     uuid NOT NULL UNIQUE,
    prospect_id  uuid REFERENCES prospects (id) ON DELETE SET NULL,
    email_hash   bytea NOT NULL,
    campaign_id  uuid REFERENCES email_campaigns (id) ON DELETE SET NULL,
    send_id      uuid REFERENCES email_sends (id) ON DELETE SET NULL,
    source       text NOT NULL CHECK (source IN ('one_click', 'form', 'complaint', 'admin')),
    reason       text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX unsubscribes_campaign_idx ON unsubscribes (campaign_id, created_at);

-- ---------------------------------------------------------------- event store + outbox
-- Append-only. Store order is position order. Appenders hold a shared advisory
-- lock from their insert to their commit; the relay takes it exclusively for an
-- instant to read a watermark below which every position is settled (committed
-- or rolled back), so an event can never appear behind one already published.
CREATE TABLE events (
    position        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id        uuid NOT NULL UNIQUE,
    type            text NOT NULL,
    version         integer NOT NULL CHECK (version >= 1),
    occurred_at     timestamptz NOT NULL,
    correlation_id  text NOT NULL,
    causation_id    uuid,
    data            jsonb NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    published_at    timestamptz
);
CREATE INDEX events_unpublished_idx ON events (position) WHERE published_at IS NULL;
CREATE INDEX events_type_idx ON events (type, position);

-- Events are facts: never updated (except the relay's published_at) or deleted.
CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'events are append-only';
    END IF;
    IF (NEW.position, NEW.event_id, NEW.type, NEW.version, NEW.occurred_at,
        NEW.correlation_id, NEW.causation_id, NEW.data)
       IS DISTINCT FROM
       (OLD.position, OLD.event_id, OLD.type, OLD.version, OLD.occurred_at,
        OLD.correlation_id, OLD.causation_id, OLD.data) THEN
        RAISE EXCEPTION 'events are append-only: only published_at may change';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_append_only();

-- ---------------------------------------------------------------- consumer tracking
-- A row per (consumer, event) applied, written in the same transaction as the
-- effect: a redelivered event finds its row and changes nothing.
CREATE TABLE processed_events (
    consumer     text NOT NULL,
    event_id     uuid NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- ---------------------------------------------------------------- read tables (projector)
CREATE TABLE send_status (
    send_id        uuid PRIMARY KEY,
    campaign_id    uuid,
    prospect_id    uuid,
    ses_message_id text,
    status         text NOT NULL,
    status_rank    smallint NOT NULL,
    error          text,
    sent_at        timestamptz,
    delivered_at   timestamptz,
    opened_at      timestamptz,
    clicked_at     timestamptz,
    bounced_at     timestamptz,
    complained_at  timestamptz,
    unsubscribed_at timestamptz,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX send_status_campaign_idx ON send_status (campaign_id, status);
CREATE INDEX send_status_message_idx ON send_status (ses_message_id);

CREATE TABLE campaign_stats (
    campaign_id      uuid PRIMARY KEY,
    sent             bigint NOT NULL DEFAULT 0,
    delivered        bigint NOT NULL DEFAULT 0,
    opened           bigint NOT NULL DEFAULT 0,
    clicked          bigint NOT NULL DEFAULT 0,
    bounced          bigint NOT NULL DEFAULT 0,
    complained       bigint NOT NULL DEFAULT 0,
    unsubscribed     bigint NOT NULL DEFAULT 0,
    failed           bigint NOT NULL DEFAULT 0,
    rejected         bigint NOT NULL DEFAULT 0,
    delivery_delayed bigint NOT NULL DEFAULT 0,
    unknown          bigint NOT NULL DEFAULT 0,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------- eligible prospects
-- Active, not suppressed anywhere, not yet claimed for this campaign, in
-- arrival order after the campaign's cursor. Each NOT EXISTS is one probe of a
-- unique index; the walk is a range scan of prospects_active_seq_idx.
CREATE FUNCTION eligible_prospects(p_campaign_id uuid, p_limit integer, p_after_seq bigint DEFAULT 0)
RETURNS TABLE (id uuid, seq bigint, email text, first_name text, last_name text,
               company text, title text, attributes jsonb)
LANGUAGE sql STABLE
AS $$
    SELECT p.id, p.seq, p.email, p.first_name, p.last_name, p.company, p.title, p.attributes
    FROM prospects p
    WHERE p.status = 'active'
      AND p.seq > p_after_seq
      AND NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.email_hash = p.email_hash)
      AND NOT EXISTS (SELECT 1 FROM email_sends es
                      WHERE es.campaign_id = p_campaign_id AND es.prospect_id = p.id)
    ORDER BY p.seq
    LIMIT p_limit
$$;
