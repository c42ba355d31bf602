"""api-gateway: the admin API (prospects, campaigns, CSV import) and the admin UI."""
