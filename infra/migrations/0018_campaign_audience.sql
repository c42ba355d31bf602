-- A campaign's audience: NULL is every active prospect (the earlier behaviour);
-- {"segment_id": ID} follows the segment's rule as it is when each batch is read;
-- {"rule": RULE} is a rule of the campaign's own (shared/audience.py).
ALTER TABLE email_campaigns
    ADD COLUMN audience jsonb CHECK (audience IS NULL OR jsonb_typeof(audience) = 'object'),
    -- Nobody contacted by another campaign in this many days is sent this one.
    ADD COLUMN frequency_cap_days integer CHECK (frequency_cap_days BETWEEN 1 AND 365);

-- The frequency cap asks "was this prospect claimed by any campaign lately".
CREATE INDEX email_sends_prospect_claimed_idx ON email_sends (prospect_id, claimed_at);
-- A segment in use by a campaign is not deleted (api_gateway/adapters/segments.py).
CREATE INDEX email_campaigns_segment_idx ON email_campaigns ((audience ->> 'segment_id'))
    WHERE audience ? 'segment_id';

-- Eligibility is built in one place, shared/eligibility.py, with the campaign's audience
-- compiled into it; the function it replaces could not take a rule.
DROP FUNCTION eligible_prospects(uuid, integer, bigint);
