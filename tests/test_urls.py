"""URLs as they are printed: the user-info part of a URL never reaches a banner, log or error."""

from __future__ import annotations

import pytest

from bot.urls import mask_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:hunter2@redis:6379/0", "redis://:***@redis:6379/0"),
        ("rediss://default:s3cr%40t@cache.example:6380", "rediss://default:***@cache.example:6380"),
        ("redis://user@host/0", "redis://user@host/0"),  # a user name alone is no secret
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("unix:///tmp/data/redis.sock", "unix:///tmp/data/redis.sock"),
        ("embedded", "embedded"),
    ],
)
def test_passwords_in_urls_are_masked(url: str, shown: str) -> None:
    assert mask_url(url) == shown
