-- Where each prospect came from and, optionally, the lawful basis for contacting them
-- (GDPR Article 6(1)). `source` is set when the prospect is created and never changed by
-- a later import or edit: {"via": "import" | "api", "file"?, "note"?, "by"?}. Prospects
-- created before this migration have none (shown as "not recorded").
ALTER TABLE prospects
    ADD COLUMN source jsonb,
    ADD COLUMN lawful_basis text CHECK (lawful_basis IN (
        'consent', 'contract', 'legal_obligation', 'vital_interests', 'public_task', 'legitimate_interests'
    ));
