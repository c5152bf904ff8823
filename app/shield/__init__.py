"""The backend shield: one per backend configuration, shared by every replica through Redis
(in process memory on the embedded tier): a rate budget with a burst, a concurrency cap, a
circuit breaker, the backend's own Retry-After honoured everywhere, and checkout served
before browsing when the budget is short."""
