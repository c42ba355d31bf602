"""sender: exact, crash-safe sending through SES v2."""
