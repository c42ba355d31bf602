-- The reputation view (GET /api/ses/reputation) reads the last days' sends by send time.
-- sent_at is set once per send (later events do not move it), so the index costs the
-- projector one entry a send.
CREATE INDEX send_status_sent_at ON send_status (sent_at) WHERE sent_at IS NOT NULL;
