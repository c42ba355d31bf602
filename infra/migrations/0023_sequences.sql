-- Sequences (issue 16): follow-up steps on a schedule that stop when someone answers.

-- A prospect's own IANA timezone, for schedules in "prospect" time.
ALTER TABLE prospects ADD COLUMN timezone text CHECK (timezone IS NULL OR length(timezone) BETWEEN 1 AND 64);

-- steps: the follow-ups after the campaign's own message (step 1), each with a stable id
-- (shared.sequence); stop_on: the events that end a prospect's sequence; schedule: when
-- anything may go (shared.schedule); daily_new_limit: first steps a day. plan_version
-- moves with every change to steps or schedule, so the sender plans every prospect's
-- next step again; next_send_at: while the campaign waits, the earliest instant anything
-- may go (the sender's watch asks for the campaign again then).
ALTER TABLE email_campaigns
    ADD COLUMN steps jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(steps) = 'array'),
    ADD COLUMN stop_on text[] NOT NULL DEFAULT '{reply,unsubscribe,complaint,bounce}',
    ADD COLUMN schedule jsonb CHECK (schedule IS NULL OR jsonb_typeof(schedule) = 'object'),
    ADD COLUMN daily_new_limit integer CHECK (daily_new_limit BETWEEN 1 AND 10000000),
    ADD COLUMN plan_version integer NOT NULL DEFAULT 1,
    ADD COLUMN next_send_at timestamptz;

-- A send is of one step: step 1 is the nil id. At most one message per (campaign,
-- prospect, step), ever (retries aside, as before).
ALTER TABLE email_sends
    ADD COLUMN step_id uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000',
    ADD COLUMN step smallint NOT NULL DEFAULT 1 CHECK (step >= 1);
DROP INDEX email_sends_campaign_prospect_key;
CREATE UNIQUE INDEX email_sends_campaign_prospect_key ON email_sends (campaign_id, prospect_id, step_id)
    WHERE campaign_id IS NOT NULL AND retried_at IS NULL;
-- daily_new_limit: the campaign's first steps claimed since the day began.
CREATE INDEX email_sends_first_steps_idx ON email_sends (campaign_id, claimed_at) WHERE step = 1;

-- The sender's own record of where each prospect is in a campaign's sequence: the steps
-- they had, the thread (SES message ids, step 1's subject as they received it), and the
-- plan for their next step (due_at NULL: none left). Written with each send's outcome.
CREATE TABLE sequence_progress (
    campaign_id    uuid NOT NULL REFERENCES email_campaigns (id) ON DELETE CASCADE,
    prospect_id    uuid NOT NULL REFERENCES prospects (id) ON DELETE CASCADE,
    steps_sent     uuid[] NOT NULL,
    last_sent_at   timestamptz NOT NULL,
    message_ids    text[] NOT NULL DEFAULT '{}',
    thread_subject text NOT NULL,
    plan_version   integer NOT NULL DEFAULT 0,
    next_step_id   uuid,
    next_step      smallint,
    due_at         timestamptz,
    PRIMARY KEY (campaign_id, prospect_id)
);
CREATE INDEX sequence_progress_due_idx ON sequence_progress (campaign_id, due_at) WHERE due_at IS NOT NULL;
CREATE INDEX sequence_progress_plan_idx ON sequence_progress (campaign_id, plan_version);

-- Prospects whose sequence in a campaign ended before its last step, and why: the first
-- stop wins, and nothing more is claimed for them in that campaign. Insert-only facts:
-- the projector writes those that follow events (reply, unsubscribe, complaint, bounce,
-- click, open, as the campaign's stop_on says), the gateway the admin's manual stop.
CREATE TABLE sequence_stops (
    campaign_id uuid NOT NULL REFERENCES email_campaigns (id) ON DELETE CASCADE,
    prospect_id uuid NOT NULL REFERENCES prospects (id) ON DELETE CASCADE,
    reason      text NOT NULL
                CHECK (reason IN ('reply', 'unsubscribe', 'complaint', 'bounce', 'click', 'open', 'manual')),
    stopped_at  timestamptz NOT NULL DEFAULT now(),
    event_id    uuid,
    PRIMARY KEY (campaign_id, prospect_id)
);
CREATE INDEX sequence_stops_listing_idx ON sequence_stops (campaign_id, stopped_at DESC);

-- Whether a schedule's window is open at `at` in `zone` (wall-clock time of day on one
-- of `days`, 0 being Monday; `closes` NULL: the end of the day), as shared.schedule
-- Schedule.is_open decides it: the sender's first steps in "prospect" time filter on it.
CREATE FUNCTION outreach_window_open(at timestamptz, zone text, days integer[], opens time, closes time)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT extract(isodow FROM at AT TIME ZONE zone)::integer - 1 = ANY(days)
             AND (at AT TIME ZONE zone)::time >= opens
             AND (closes IS NULL OR (at AT TIME ZONE zone)::time < closes) $$;

-- Stats per step (the projector's, rebuilt from the store like the rest): each send's
-- step, copied from email_sends when its first event is applied, and one row of
-- counters per (campaign, step). A reply (prospect.replied) is a fact of its send.
ALTER TABLE send_status ADD COLUMN step smallint;
ALTER TABLE campaign_stats ADD COLUMN replied bigint NOT NULL DEFAULT 0;
CREATE TABLE campaign_step_stats (
    campaign_id      uuid NOT NULL,
    step             smallint NOT NULL,
    sent             bigint NOT NULL DEFAULT 0,
    delivered        bigint NOT NULL DEFAULT 0,
    opened           bigint NOT NULL DEFAULT 0,
    clicked          bigint NOT NULL DEFAULT 0,
    replied          bigint NOT NULL DEFAULT 0,
    bounced          bigint NOT NULL DEFAULT 0,
    complained       bigint NOT NULL DEFAULT 0,
    unsubscribed     bigint NOT NULL DEFAULT 0,
    failed           bigint NOT NULL DEFAULT 0,
    rejected         bigint NOT NULL DEFAULT 0,
    rendering_failed bigint NOT NULL DEFAULT 0,
    delivery_delayed bigint NOT NULL DEFAULT 0,
    unknown          bigint NOT NULL DEFAULT 0,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (campaign_id, step)
);
