-- Deliverability guard rails, the sender's part (docs/deliverability.md).

-- Why a waiting campaign waits: its schedule or a follow-up's due time, its recipients'
-- domains (per-domain pacing), or the warm-up's allowance for the day.
ALTER TABLE email_campaigns ADD COLUMN wait_reason text
    CHECK (wait_reason IN ('schedule', 'domain_pacing', 'warmup'));

-- Sending domains (the part of a campaign's From after the @) and their warm-up: day 1 is
-- the day of the domain's first send (first_send_on, in DAILY_SEND_CAP_TIMEZONE). A domain
-- is warm when an admin says so (warm_since, marked_by) or the schedule is over.
CREATE TABLE sending_domains (
    domain         text PRIMARY KEY CHECK (domain = lower(domain) AND length(domain) BETWEEN 1 AND 253),
    first_send_on  date NOT NULL,
    warm_since     timestamptz,
    marked_by      text,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Bounced and complained prospects put on the SES account-level suppression list
-- (PutSuppressedDestination). A prospect erased takes its row with it.
CREATE TABLE ses_suppression_pushes (
    prospect_id  uuid PRIMARY KEY REFERENCES prospects (id) ON DELETE CASCADE,
    reason       text NOT NULL CHECK (reason IN ('BOUNCE', 'COMPLAINT')),
    pushed_at    timestamptz NOT NULL DEFAULT now()
);

-- The kill switch: whether sending on the SES configuration set should be enabled
-- (wanted), and whether SES was told (applied_at, by the sender). The account-level
-- reputation guard counts the last 7 days' sends, and only those since guard_from once
-- set: a re-enable starts it again, as SES resets the set's reputation metrics.
CREATE TABLE sending_switch (
    id           boolean PRIMARY KEY DEFAULT true CHECK (id),
    enabled      boolean NOT NULL DEFAULT true,
    reason       text,
    changed_by   text,
    changed_at   timestamptz NOT NULL DEFAULT now(),
    applied_at   timestamptz,
    apply_error  text,
    guard_from   timestamptz
);
-- Nothing to tell SES at first: a set disabled by hand in the console stays so.
INSERT INTO sending_switch (applied_at) VALUES (now());
