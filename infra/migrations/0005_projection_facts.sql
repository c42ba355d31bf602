-- The projector's send read table holds facts, each set once (first time wins,
-- earliest timestamp kept): any arrival order of the same events, with any
-- duplicates, leaves the same row. Status is derived from the facts by rank.
ALTER TABLE send_status
    ADD COLUMN failed_at timestamptz,
    ADD COLUMN unknown_at timestamptz,
    ADD COLUMN rejected_at timestamptz,
    ADD COLUMN delayed_at timestamptz,
    ADD COLUMN transient_bounce_at timestamptz,
    ADD COLUMN bounce_type text,
    ADD COLUMN first_event_at timestamptz;
ALTER TABLE send_status ALTER COLUMN status DROP NOT NULL, ALTER COLUMN status_rank DROP NOT NULL;

