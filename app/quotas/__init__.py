"""Quotas per tenant and per client, by route class, shared by every replica through Redis
(in-process on the embedded tier), announced with RateLimit-Policy / RateLimit headers."""
