"""The common ground of the tests that make sessions wait in hacienda_acquire().

Keys use the default limits (capacity 20, refill 10 tokens per second), so
one token comes due every 0.1 s once a key is exhausted.
"""

import time
import unittest

import psycopg2

import support
from support import StatementThread, connect, scalar, stop_statement_threads

CAPACITY = int(support.DEFAULTS["capacity"])
RATE = support.DEFAULTS["refill_rate"]
SLOT = 1.0 / RATE  # seconds between two single-token grants

ACQUIRE = "SELECT hacienda_acquire(%s, %s, %s)"
TRY_ACQUIRE = "SELECT hacienda_try_acquire(%s, %s)"


def timed_error(conn, sql, args=None):
    """Run a statement that should fail; return (SQLSTATE or None, seconds taken)."""
    started = time.monotonic()
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
    except psycopg2.Error as exc:
        return exc.pgcode, time.monotonic() - started
    return None, time.monotonic() - started


class WaiterTestCase(unittest.TestCase):
    """A test with one control connection and helpers to queue waiters."""

    def setUp(self):
        self.conn = connect()
        self.addCleanup(self.conn.close)

    def exhaust(self, key):
        """Take the whole of a fresh key; return the clock reading just after."""
        self.assertTrue(scalar(self.conn, TRY_ACQUIRE, (key, CAPACITY)))
        return time.monotonic()

    def waiters(self, count, key, tokens=1, timeout=30):
        """Open count waiting sessions (not started); they are closed at cleanup."""
        threads = []
        self.addCleanup(stop_statement_threads, threads)
        for _ in range(count):
            threads.append(StatementThread(ACQUIRE, (timeout, key, tokens)))
        return threads

    def join_all(self, threads, timeout=10.0):
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.assertEqual([t.outcome() for t in threads if t.is_alive()], [],
                         "waiters still running after %.0f s" % timeout)
