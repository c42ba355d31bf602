"""ops: the operator's entry points (the `outreach` command). It may import services; nothing imports it."""
