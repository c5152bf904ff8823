"""Order intake, the order state machine, order events, the outbox and its worker."""
