"""Python client for hacienda_ratelimit, the shared token-bucket rate limiter.

The extension keeps one token bucket per key in the shared memory of a
PostgreSQL server, so every Odoo worker and POS terminal that uses the database
sees the same limit.  This module wraps its SQL functions for Python callers.

It works on any DB-API 2.0 cursor: a psycopg2 or psycopg cursor, or Odoo's
``env.cr``.  It needs only ``execute(query, params)`` and ``fetchone()``, and it
imports no database driver.

Every function takes the cursor first, then the arguments of the SQL function
it calls, in the same order and with the same defaults:

    acquire_token(cr, timeout=30, key="default", tokens=1)   hacienda_acquire
    try_acquire_token(cr, key="default", tokens=1)           hacienda_try_acquire
    get_available_tokens(cr, key="default")                  hacienda_status
    throttle(cr, key="default", tokens=1)                    hacienda_throttle
    reset(cr, key="default")                                 hacienda_reset

Errors that carry one of the extension's SQLSTATEs are raised again as a
subclass of RateLimitError, chained to the driver's error (``__cause__``) and
keeping its SQLSTATE in ``pgcode`` (also readable as ``sqlstate``).  Errors with
any other SQLSTATE, and errors that are not the database's, pass untouched.

The client never issues SAVEPOINT or ROLLBACK.  An error aborts the caller's
transaction like any other error, so a caller whose transaction must go on
makes the call inside a savepoint (in Odoo, ``with env.cr.savepoint():``).
Tokens are not transactional: a token taken is spent even if the transaction
rolls back.
"""

import contextlib
import operator
import re

__all__ = [
    "RateLimitError", "AcquireTimeout", "NotPreloaded", "BucketTableFull",
    "ReadOnlyServer", "PermissionDenied", "InvalidArgument", "RateLimiter",
    "acquire_token", "try_acquire_token", "get_available_tokens", "throttle",
    "reset", "map_error",
]


class RateLimitError(Exception):
    """An error the extension raised, with its SQLSTATE and DETAIL.

    pgcode is the five-character SQLSTATE; detail is the server's DETAIL line,
    or None.  The driver's own exception is the ``__cause__``.
    """

    def __init__(self, message, pgcode, detail=None):
        super().__init__(message)
        self.pgcode = pgcode
        self.detail = detail

    @property
    def sqlstate(self):
        """The SQLSTATE, under the name psycopg 3 uses."""
        return self.pgcode


class AcquireTimeout(RateLimitError):
    """RL001: the tokens could not be granted within the timeout.

    retry_after is the number of seconds until the request's slot, as the
    server's DETAIL gives it ("The next slot for the request is X seconds
    away."), to the millisecond; None if the DETAIL is missing or worded
    otherwise.  The server fails at once when the slot is further than the
    timeout, so retry_after is counted from about the moment of the error.
    """

    def __init__(self, message, pgcode, detail=None):
        super().__init__(message, pgcode, detail)
        self.retry_after = _seconds_from_detail(detail)


class NotPreloaded(RateLimitError):
    """55000: hacienda_ratelimit is not in shared_preload_libraries."""


class BucketTableFull(RateLimitError):
    """53200: no room for a new bucket (see hacienda_ratelimit.max_buckets)."""


class ReadOnlyServer(RateLimitError):
    """25006: the server is a hot standby; take tokens on the primary."""


class PermissionDenied(RateLimitError):
    """42501: the role may not call the function (hacienda_reset, for one)."""


class InvalidArgument(RateLimitError):
    """Class 22: a null, empty, over-long or wrongly encoded argument."""


# The exception for each SQLSTATE; every other code of class 22 is InvalidArgument.
_ERROR_CLASSES = {
    "RL001": AcquireTimeout,
    "55000": NotPreloaded,
    "53200": BucketTableFull,
    "25006": ReadOnlyServer,
    "42501": PermissionDenied,
}

# The DETAIL of RL001, with the seconds to the next slot.
_SLOT_DETAIL = re.compile(r"next slot for the request is ([0-9]+(?:\.[0-9]+)?) seconds? away")


def _seconds_from_detail(detail):
    """The seconds named in an RL001 DETAIL, or None."""
    match = _SLOT_DETAIL.search(detail or "")
    return float(match.group(1)) if match else None


def _sqlstate(exc):
    """The SQLSTATE of a psycopg2 (pgcode) or psycopg (sqlstate) error, or None."""
    return getattr(exc, "pgcode", None) or getattr(exc, "sqlstate", None)


def map_error(exc):
    """The RateLimitError for a driver's error, or None if it has no mapping.

    The result is not chained yet; raise it with ``raise mapped from exc``.
    """
    code = _sqlstate(exc)
    if not isinstance(code, str):
        return None

    cls = _ERROR_CLASSES.get(code)
    if cls is None and code.startswith("22"):
        cls = InvalidArgument
    if cls is None:
        return None

    diag = getattr(exc, "diag", None)
    detail = getattr(diag, "message_detail", None)
    message = getattr(diag, "message_primary", None) or str(exc).strip()
    return cls(message, code, detail)


@contextlib.contextmanager
def _mapped_errors():
    """Raise the driver's errors with a mapped SQLSTATE as RateLimitError."""
    try:
        yield
    except Exception as exc:
        mapped = map_error(exc)
        if mapped is None:
            raise
        raise mapped from exc


def _whole(tokens):
    """tokens as an int, refusing floats that the SQL cast would round; None stays."""
    return None if tokens is None else operator.index(tokens)


def _seconds(timeout):
    """timeout as a float; None stays, for the server to refuse."""
    return None if timeout is None else float(timeout)


def _one_row(cr, sql, params):
    """Run a query through the extension's error mapping; return its single row."""
    with _mapped_errors():
        cr.execute(sql, params)
        return cr.fetchone()


def acquire_token(cr, timeout=30, key="default", tokens=1):
    """Take tokens from the bucket, waiting up to timeout seconds; return True.

    Waiters are served in arrival order.  If the tokens cannot be granted within
    timeout, the server fails at once and this raises AcquireTimeout, whose
    retry_after says how many seconds away the slot was.
    """
    row = _one_row(cr, "SELECT hacienda_acquire(%s::float8, %s::text, %s::int4)",
                   (_seconds(timeout), key, _whole(tokens)))
    return row[0] is True


def try_acquire_token(cr, key="default", tokens=1):
    """Take tokens if the bucket holds them now; never waits.  Returns a bool."""
    row = _one_row(cr, "SELECT hacienda_try_acquire(%s::text, %s::int4)",
                   (key, _whole(tokens)))
    return row[0] is True


# The columns of hacienda_status that get_available_tokens returns, in order.
_STATUS_COLUMNS = ("tokens", "capacity", "refill_rate", "total_requests",
                   "last_request", "utilization")


def get_available_tokens(cr, key="default"):
    """The bucket's state, without consuming anything or creating the bucket.

    Returns a dict with exactly these keys: tokens (float, available now),
    capacity (int), refill_rate (float, tokens per second), total_requests (int,
    grants over the bucket's life), last_request (time of the last grant as the
    driver returns a timestamptz, or None) and utilization (percent, 0 to 100).
    """
    sql = "SELECT %s FROM hacienda_status(%%s::text)" % ", ".join(_STATUS_COLUMNS)
    row = _one_row(cr, sql, (key,))
    return dict(zip(_STATUS_COLUMNS, row))


# The columns of hacienda_throttle, in order.
_THROTTLE_COLUMNS = ("allowed", "remaining", "retry_after", "reset_after")


def throttle(cr, key="default", tokens=1):
    """Take tokens if available now, and say when to come back; never waits.

    Returns a dict: allowed (bool, whether the tokens were taken), remaining
    (whole tokens left), retry_after (seconds until the same request would
    succeed, 0 when allowed) and reset_after (seconds until the bucket is full).
    """
    sql = "SELECT %s FROM hacienda_throttle(%%s::text, %%s::int4)" % ", ".join(_THROTTLE_COLUMNS)
    row = _one_row(cr, sql, (key, _whole(tokens)))
    return dict(zip(_THROTTLE_COLUMNS, row))


def reset(cr, key="default"):
    """Refill the bucket to capacity.  Needs EXECUTE on hacienda_reset."""
    _one_row(cr, "SELECT hacienda_reset(%s::text)", (key,))


class RateLimiter:
    """One bucket and one cursor, for callers that make many calls on the same key.

    The methods are the module's functions with the cursor and key filled in.
    """

    def __init__(self, cr, key="default"):
        self.cr = cr
        self.key = key

    def acquire(self, timeout=30, tokens=1):
        """acquire_token() on this bucket."""
        return acquire_token(self.cr, timeout, self.key, tokens)

    def try_acquire(self, tokens=1):
        """try_acquire_token() on this bucket."""
        return try_acquire_token(self.cr, self.key, tokens)

    def available(self):
        """get_available_tokens() of this bucket."""
        return get_available_tokens(self.cr, self.key)

    def throttle(self, tokens=1):
        """throttle() on this bucket."""
        return throttle(self.cr, self.key, tokens)

    def reset(self):
        """reset() of this bucket."""
        reset(self.cr, self.key)
