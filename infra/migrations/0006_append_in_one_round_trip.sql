-- The event store's two sides of the outbox ordering rule (shared/outbox.py),
-- in the database so that every append is one round trip and can ride in the
-- same statement as the state change it records.
--
-- An appender holds the append lock shared from its insert to the end of its
-- transaction; the relay takes it exclusively, for an instant, to read the
-- highest settled position. pg_notify is delivered at commit and wakes the relay.
CREATE FUNCTION append_events(
    event_ids uuid[], types text[], versions int[], occurred timestamptz[],
    correlations text[], causations uuid[], payloads jsonb[]
) RETURNS int
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(8031453545095000164);  -- "outrappd"
    INSERT INTO events (event_id, type, version, occurred_at, correlation_id, causation_id, data)
    SELECT * FROM unnest(event_ids, types, versions, occurred, correlations, causations, payloads);
    PERFORM pg_notify('outreach_outbox', '');
    RETURN cardinality(event_ids);
END
$$;

-- Waits at most 50 ms for appenders still open (lock_not_available otherwise:
-- the relay tries again shortly instead of holding new appenders back).
CREATE FUNCTION settled_watermark() RETURNS bigint
LANGUAGE plpgsql VOLATILE SET lock_timeout = '50ms' AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(8031453545095000164);
    RETURN COALESCE((SELECT max(position) FROM events), 0);
END
$$;
