"""event-ingest: SES events from EventBridge in, domain events out."""
