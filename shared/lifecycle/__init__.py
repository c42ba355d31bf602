"""One module per shared record: its transition table and the only statements that write it."""
