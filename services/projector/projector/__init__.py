"""projector: keeps the read tables (send status, campaign stats) from the event stream."""
