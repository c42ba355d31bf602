-- Custom fields usable in templates: the attribute keys present on prospects that can be
-- a placeholder name (`{{ industry }}`), kept by every writer of attributes
-- (shared/lifecycle/prospect.py) so a template is validated without scanning prospects.
CREATE TABLE attribute_keys (
    key            text PRIMARY KEY CHECK (key ~ '^[A-Za-z_][A-Za-z0-9_]{0,99}$'),
    first_seen_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO attribute_keys (key)
SELECT DISTINCT k FROM prospects, jsonb_object_keys(attributes) AS k
WHERE k ~ '^[A-Za-z_][A-Za-z0-9_]{0,99}$'
ON CONFLICT DO NOTHING;
