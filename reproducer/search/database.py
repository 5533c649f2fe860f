"""Where Hypothesis keeps its examples: a directory, or a Redis server that every worker, every
CI job and every `pytest -n` worker shares, so a counterexample one of them found is replayed
first by all of them.

The Redis side is Hypothesis's own `hypothesis.extra.redis.RedisExampleDatabase` (examples are
Redis sets under `hypothesis-example:<key>`, kept 8 days after their last use); what this module
adds is the URL form `redis://HOST:PORT[/DB]` and a PING before anything runs, so a server that
does not answer is one clear error at start-up instead of one per test or per exploration.

Redis is the optional extra `redis`, and Hypothesis is loaded when a database is asked for:
both are imported inside the functions that need them, so importing `reproducer` costs neither.

A conftest that shares the examples of every property test, with Hypothesis's profiles::

    import os
    from hypothesis import settings
    from reproducer import shared_database

    if url := os.environ.get("HYPOTHESIS_REDIS_URL"):
        settings.register_profile("shared", database=shared_database(url))
        settings.load_profile("shared")
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from hypothesis.database import ExampleDatabase
    from hypothesis.extra.redis import RedisExampleDatabase

__all__ = ["REDIS_URL_FORM", "DatabaseUnavailable", "example_database", "is_redis_url",
           "shared_database", "shown_url"]

_SCHEMES = ("redis", "rediss")
REDIS_URL_FORM = "redis://HOST:PORT[/DB]"


class DatabaseUnavailable(Exception):
    """A shared example database that cannot be used: a malformed URL, no server answering, or
    a server that refused us. The message says which and what to do instead."""


def is_redis_url(location: object) -> bool:
    """Whether `location` (a `database=` or `--database` value) names a Redis server."""
    return isinstance(location, str) and location.partition("://")[0] in _SCHEMES


def shown_url(url: str) -> str:
    """`url` as an error message may echo it: without its password (redis://:SECRET@HOST)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user, _, host = parts.netloc.rpartition("@")
    name = user.partition(":")[0]
    return parts._replace(netloc=f"{name}:***@{host}").geturl()


def _check_form(url: str) -> None:
    """A `DatabaseUnavailable` for a URL that is not `redis://HOST[:PORT][/DB]`: redis-py itself
    ignores a database index that is not a number (`/abc`) and would use database 0."""
    parts, shown = urlsplit(url), shown_url(url)
    try:
        parts.port  # noqa: B018 -- raises ValueError for a port that is not 0-65535
    except ValueError as exc:
        raise DatabaseUnavailable(
            f"{shown}: not a Redis URL ({exc}); the form is {REDIS_URL_FORM}") from None
    if not parts.hostname:
        raise DatabaseUnavailable(
            f"{shown}: not a Redis URL (no host); the form is {REDIS_URL_FORM}")
    db = parts.path.strip("/")
    if db and not db.isdigit():
        raise DatabaseUnavailable(f"{shown}: not a Redis URL (database {db!r} is not a number); "
                                  f"the form is {REDIS_URL_FORM}")


def shared_database(url: str, *, timeout_s: float = 2.0,
                    instead: str = "a directory database") -> RedisExampleDatabase:
    """Hypothesis's `RedisExampleDatabase` on the server at `url` (`redis://HOST:PORT[/DB]`),
    once it has answered a PING within `timeout_s`. Every later command waits at most
    `timeout_s` too, so a server that goes away fails a test rather than hanging it.

    Raises `DatabaseUnavailable` (naming `instead` as the way out) for a malformed URL, no
    server answering, or a server that refuses (a password, a database index out of range);
    `ImportError`'s message names the extra to install when the redis package is missing."""
    shown = shown_url(url)
    if not is_redis_url(url):
        raise DatabaseUnavailable(f"{shown}: not a Redis URL; the form is {REDIS_URL_FORM}")
    _check_form(url)
    try:
        from hypothesis.extra.redis import RedisExampleDatabase
        from redis import Redis
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import RedisError
        from redis.exceptions import TimeoutError as RedisTimeoutError
    except ImportError as exc:
        raise ImportError(f"{shown}: a Redis example database needs the redis package "
                          "(pip install 'dns-race-reproducer[redis]')") from exc

    try:
        client = Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
    except (ValueError, TypeError) as exc:
        raise DatabaseUnavailable(
            f"{shown}: not a Redis URL ({exc}); the form is {REDIS_URL_FORM}") from None
    try:
        client.ping()
    except (RedisConnectionError, RedisTimeoutError) as exc:
        client.close()
        port = client.connection_pool.connection_kwargs.get("port", 6379)
        raise DatabaseUnavailable(
            f"no Redis server answering at {shown} ({exc}); start one with "
            f"redis-server --port {port} or use {instead}") from None
    except RedisError as exc:  # it answered, and said no: AUTH, a database out of range
        client.close()
        raise DatabaseUnavailable(f"the Redis server at {shown} answered but refused: {exc}; "
                                  f"check the URL's database index and password") from None
    return RedisExampleDatabase(client)


def example_database(location: Path | str | Literal["default"] | None) -> ExampleDatabase | None:
    """The example database a `database=` value names: "default", Hypothesis's own for the
    current profile (`.hypothesis/examples` under the working directory unless a conftest
    registered another, such as `shared_database`); None, none; a `redis://` URL, the shared
    one on that server (`shared_database`); anything else, a directory."""
    from hypothesis import settings
    from hypothesis.database import DirectoryBasedExampleDatabase

    if location == "default":
        default = settings.default
        assert default is not None
        return default.database
    if location is None:
        return None
    if is_redis_url(location):
        assert isinstance(location, str)
        return shared_database(location)
    return DirectoryBasedExampleDatabase(str(location))
