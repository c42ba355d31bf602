"""unsubscribe: the recipient's side — the accessible page and RFC 8058 one-click."""
