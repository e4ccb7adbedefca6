"""Shared helpers for the Python tests of hacienda_ratelimit.

The tests connect to the throwaway server that scripts/test starts; libpq
finds it through PGHOST, PGPORT, PGUSER and PGDATABASE.  Run them with
/usr/bin/python3, which has Debian's psycopg2.
"""

import math
import os
import time
import uuid

import psycopg2
import psycopg2.errors

# The SQLSTATE hacienda_acquire() raises when a wait cannot finish in time.
RATE_LIMIT_TIMEOUT = "RL001"

# The defaults of hacienda_ratelimit.capacity and hacienda_ratelimit.refill_rate.
DEFAULTS = {"capacity": 20.0, "refill_rate": 10.0}


def connect(**kwargs):
    """An autocommit connection to the test server."""
    conn = psycopg2.connect(**kwargs)
    conn.autocommit = True
    return conn


def fresh_key(prefix="t"):
    """A key no other test (or earlier run on the same server) has used."""
    return "%s-%s" % (prefix, uuid.uuid4().hex[:12])


def ensure_extension():
    conn = connect()
    with conn.cursor() as cur:
        cur.execute("CREATE EXTENSION IF NOT EXISTS hacienda_ratelimit")
    conn.close()


def scalar(conn, sql, args=None):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchone()[0]


def status(conn, key):
    """hacienda_status(key) as a dict."""
    with conn.cursor() as cur:
        cur.execute("SELECT * FROM hacienda_status(%s)", (key,))
        names = [d[0] for d in cur.description]
        return dict(zip(names, cur.fetchone()))


def server_log_path():
    """Where scripts/test keeps the server log, if it says."""
    return os.environ.get("HR_SERVER_LOG")


def set_limits(capacity=None, refill_rate=None, timeout=10.0):
    """Change the default limits with ALTER SYSTEM and a reload.

    Returns once a new session sees the new values.  Pass None to reset a
    setting to its default.
    """
    conn = connect()
    wanted = dict(DEFAULTS)
    with conn.cursor() as cur:
        for name, value in (("capacity", capacity), ("refill_rate", refill_rate)):
            if value is None:
                cur.execute("ALTER SYSTEM RESET hacienda_ratelimit.%s" % name)
            else:
                cur.execute("ALTER SYSTEM SET hacienda_ratelimit.%s = %%s" % name, (str(value),))
                wanted[name] = float(value)
        cur.execute("SELECT pg_reload_conf()")
    conn.close()

    deadline = time.monotonic() + timeout
    while True:
        probe = connect()
        with probe.cursor() as cur:
            cur.execute("SELECT current_setting('hacienda_ratelimit.capacity')::float8, "
                        "current_setting('hacienda_ratelimit.refill_rate')::float8")
            seen = dict(zip(("capacity", "refill_rate"), cur.fetchone()))
        probe.close()
        if all(seen[k] == v for k, v in wanted.items()):
            return
        if time.monotonic() > deadline:
            raise AssertionError("settings %r not applied; server shows %r" % (wanted, seen))
        time.sleep(0.05)


# ---------------------------------------------------------------------------
# Helpers for sessions that wait: test_waiting.py and test_faults.py.

import threading  # noqa: E402

# The SQLSTATEs of a cancelled statement and of bad arguments.
QUERY_CANCELED = "57014"
INVALID_PARAMETER_VALUE = "22023"
NULL_VALUE_NOT_ALLOWED = "22004"


def poll_until(predicate, timeout, interval=0.01):
    """Call predicate() until it returns a true value or timeout seconds pass.

    Returns the last value predicate() returned, so a caller can assert on it
    and show what was seen last.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


class StatementThread(threading.Thread):
    """One session that runs one statement in a thread of its own.

    The connection opens in the constructor, so pid is known before start().
    Once the thread has ended: result is the first column of the first row,
    error the psycopg2 exception (or None), pgcode its SQLSTATE, and started
    and ended the time.monotonic() readings around the statement.  Always
    hand the threads to stop_statement_threads(), which closes them.
    """

    def __init__(self, sql, args=None):
        super().__init__(daemon=True)
        self.sql = sql
        self.args = args
        self.conn = connect()
        self.pid = self.conn.get_backend_pid()
        self.result = None
        self.error = None
        self.pgcode = None
        self.started = None
        self.ended = None
        self.finished = threading.Event()

    def run(self):
        cur = None
        try:
            cur = self.conn.cursor()
            self.started = time.monotonic()
            try:
                cur.execute(self.sql, self.args)
            finally:
                self.ended = time.monotonic()
            self.result = cur.fetchone()[0]
        except Exception as exc:  # recorded for the test to assert on
            self.error = exc
            self.pgcode = getattr(exc, "pgcode", None)
        finally:
            if cur is not None and not self.conn.closed:
                cur.close()
            self.finished.set()

    def done(self):
        """True once the statement has returned or failed and all is recorded."""
        return self.finished.is_set()

    def outcome(self):
        """A short description for assertion messages."""
        if not self.done():
            return "pid %d: still running" % self.pid
        if self.error is not None:
            return "pid %d: %s %s" % (self.pid, self.pgcode, str(self.error).strip())
        return "pid %d: returned %r" % (self.pid, self.result)


def stop_statement_threads(threads, timeout=5.0):
    """Cancel the statements still running, join every thread, close every connection.

    Safe to call more than once and on threads never started.  A statement
    that ignores the cancel is terminated; a thread that still will not end
    is left behind (it is a daemon) with its connection open.
    """
    running = [t for t in threads if t.is_alive()]
    for t in running:
        try:
            t.conn.cancel()
        except Exception:
            pass
    for t in running:
        t.join(timeout)
    stuck = [t for t in threads if t.is_alive()]
    if stuck:
        admin = connect()
        try:
            with admin.cursor() as cur:
                for t in stuck:
                    cur.execute("SELECT pg_terminate_backend(%s)", (t.pid,))
        finally:
            admin.close()
        for t in stuck:
            t.join(timeout)
    for t in threads:
        if not t.is_alive():
            t.conn.close()


def sleeping_pids(conn, pids):
    """The pids among pids that pg_stat_activity shows asleep in an extension."""
    with conn.cursor() as cur:
        cur.execute("SELECT pid FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Extension' AND pid = ANY(%s)", (list(pids),))
        return {row[0] for row in cur.fetchall()}


def wait_until_sleeping(conn, threads, timeout=5.0):
    """Wait until each thread's session sleeps in hacienda_acquire() or has finished.

    Raises AssertionError naming the sessions that did neither in time.
    """
    left = []

    def settled():
        pending = [t for t in threads if not t.done()]
        asleep = sleeping_pids(conn, [t.pid for t in pending]) if pending else set()
        left[:] = [t for t in pending if t.pid not in asleep and not t.done()]
        return not left

    if not poll_until(settled, timeout):
        raise AssertionError("sessions neither waiting nor done after %.1f s: %s"
                             % (timeout, [t.outcome() for t in left]))


def require_default_limits():
    """Raise AssertionError unless new sessions see the default capacity and rate."""
    conn = connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT current_setting('hacienda_ratelimit.capacity')::float8, "
                        "current_setting('hacienda_ratelimit.refill_rate')::float8")
            seen = dict(zip(("capacity", "refill_rate"), cur.fetchone()))
    finally:
        conn.close()
    if seen != DEFAULTS:
        raise AssertionError("these tests need the default limits %r; the server has %r"
                             % (DEFAULTS, seen))


def server_log_text():
    """The whole server log, or None if HR_SERVER_LOG does not name one."""
    path = server_log_path()
    if not path:
        return None
    with open(path, errors="replace") as log:
        return log.read()


# Helpers for the exactness and concurrency tests.  Client clock readings come
# from time.monotonic(), which on Linux is the CLOCK_MONOTONIC the buckets
# refill from, so a server-side instant lies between a query's send and receive.

GRANTS_SQL = ("SELECT count(*) FILTER (WHERE ok), bool_or(ok) FILTER (WHERE g = %(n)s) "
              "FROM (SELECT g, hacienda_try_acquire(%(key)s, %(tokens)s) AS ok "
              "FROM generate_series(1, %(n)s) AS g OFFSET 0) AS calls")


def timed_row(conn, sql, args=None):
    """Run a one-row query; return (send, recv, row) with monotonic times around it."""
    with conn.cursor() as cur:
        send = time.monotonic()
        cur.execute(sql, args)
        row = cur.fetchone()
        recv = time.monotonic()
    return send, recv, row


def count_grants(conn, key, calls, tokens=1):
    """Make `calls` try_acquire calls in one statement.

    Returns (send, recv, grants, last_refused): the client times around the
    statement, how many calls were granted, and whether the last one was refused.
    """
    send, recv, row = timed_row(conn, GRANTS_SQL, {"n": calls, "key": key, "tokens": tokens})
    return send, recv, row[0], not row[1]


def sync_to_token(conn, key):
    """Pin down the instant an exhausted bucket's level is exactly zero.

    hacienda_acquire() on a bucket holding less than one token reserves it and
    returns once the refill has paid it back, when the level is exactly zero; the
    level then grows as rate * (t - ready).  A status read right after gives that
    level at an instant inside its own round trip, which brackets ready.  Returns
    (ready_lo, ready_hi, rate).  Nobody else may use the key meanwhile.
    """
    if not scalar(conn, "SELECT hacienda_acquire(5, %s)", (key,)):
        raise AssertionError("hacienda_acquire(5, %r) returned false" % key)
    send, recv, (tokens, rate) = timed_row(
        conn, "SELECT tokens, refill_rate FROM hacienda_status(%s)", (key,))
    return send - tokens / rate, recv - tokens / rate, rate


# Slack for the float arithmetic of the bounds below: far below one token.
_EPS = 1e-6


def grant_bounds(capacity, rate, statements):
    """The grants a fresh key may have made, from its callers' client times.

    statements: (send, recv, grants, last_refused) for every statement made on
    the key since its first call, each asking for one token per call.  The
    bucket was created full at an instant t0 between the earliest send and the
    earliest receive.  It grants at most capacity + rate * (t - t0) by any
    later instant t, so at most capacity + rate * (last recv - first send) in
    all.  When a call is refused the level is below one token, so if demand
    kept the bucket below capacity after t0 (the tests make sure it does), the
    grants up to that call exceed capacity + rate * (its send - first recv) - 1;
    being a whole number, they are at least capacity + floor(rate * that span).
    A refusal comes after t0, so then at least capacity calls were granted.
    Returns (lo, hi); lo is 0 if no statement ended with a refusal.
    """
    first_send = min(s[0] for s in statements)
    first_recv = min(s[1] for s in statements)
    last_recv = max(s[1] for s in statements)
    hi = capacity + math.floor(rate * (last_recv - first_send) + _EPS)
    refused_sends = [s[0] for s in statements if s[3]]
    lo = 0
    if refused_sends:
        span = max(0.0, max(refused_sends) - first_recv)
        lo = capacity + max(0, math.floor(rate * span - _EPS))
    return lo, hi


def grants_since_sync(ready_lo, ready_hi, rate, send, recv, last_refused):
    """Bounds on the grants since sync_to_token(), counted by a statement.

    The level was zero at ready and nothing was taken since, except by the
    statements counted; by the end of this one the refill has paid
    rate * (t - ready) for an instant t in [send, recv].  All of it, minus less
    than one token, was granted if its last call was refused.
    Returns (lo, hi) for the grants since ready, this statement included.
    """
    hi = math.floor(rate * (recv - ready_lo) + _EPS)
    lo = 0
    if last_refused:
        lo = max(0, math.floor(rate * (send - ready_hi) - _EPS))
    return lo, hi


def run_threads(count, target, timeout=120.0):
    """Run target(i) for i in range(count), each in its own thread.

    Waits for all of them and re-raises the first exception any of them raised.
    """
    import threading

    errors = []

    def guarded(i):
        try:
            target(i)
        except BaseException as exc:  # handed to the calling thread below
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            raise AssertionError("a worker thread did not finish within %g s" % timeout)
    if errors:
        raise errors[0]
