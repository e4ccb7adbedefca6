"""Shared helpers for the Python tests of hacienda_ratelimit.

The tests connect to the throwaway server that scripts/test starts; libpq
finds it through PGHOST, PGPORT, PGUSER and PGDATABASE.  Run them with
/usr/bin/python3, which has Debian's psycopg2.
"""

import os
import time
import uuid

import psycopg2
import psycopg2.errors

# The SQLSTATE hacienda_acquire() raises when a wait cannot finish in time.
RATE_LIMIT_TIMEOUT = "HR001"

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
