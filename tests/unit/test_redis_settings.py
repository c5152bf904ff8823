"""How long the gateway waits on Redis comes from the environment, with short defaults."""

from __future__ import annotations

from app.settings import RedisSettings, Settings


def test_redis_waits_are_read_from_the_environment() -> None:
    given = Settings.from_env(
        {
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "GATEWAY_REDIS_TIMEOUT": "0.2",
            "GATEWAY_REDIS_CONNECT_TIMEOUT": "0.3",
            "GATEWAY_REDIS_RETRY_AFTER": "7",
        }
    )
    assert given.redis == RedisSettings(timeout=0.2, connect_timeout=0.3, retry_after_failure=7.0)
    assert Settings.from_env({}).redis == RedisSettings(
        timeout=0.5, connect_timeout=0.5, retry_after_failure=5.0
    )
