-- The unsubscribe links that were used, one row per message (send). A recipient's
-- opt-out appends its event when it changes the prospect's status, or when it is the
-- first through this message: someone already unsubscribed who clicks the link in
-- another campaign's message is counted on that campaign too, and a double click on
-- the same link is one opt-out. Written only by shared/lifecycle/prospect.py.
CREATE TABLE opt_out_links (
    send_id      uuid PRIMARY KEY REFERENCES email_sends (id) ON DELETE CASCADE,
    used_at      timestamptz NOT NULL DEFAULT now()
);

-- The links used before this table: the opt-out audit rows the recipient made.
INSERT INTO opt_out_links (send_id, used_at)
SELECT send_id, min(created_at) FROM unsubscribes
WHERE send_id IS NOT NULL AND source IN ('one_click', 'form')
GROUP BY send_id
ON CONFLICT DO NOTHING;
