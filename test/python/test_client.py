"""The Python client's functions against the real server.

Each test uses a fresh key.  Most give it limits of their own with a refill of
one token per 100 s or slower, so the counts they assert on are exact however
slowly the machine runs.  The last test runs every function through a cursor
that offers only what Odoo's env.cr does.
"""

import datetime
import os
import sys
import unittest

import psycopg2

import support

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "clients", "python"))
import hacienda_ratelimit as hr  # noqa: E402

# A refill slow enough that no token comes back while a test runs.
SLOW_RATE = 0.001


def setUpModule():
    support.ensure_extension()


def configured_key(prefix, capacity, refill_rate):
    """A fresh key with limits of its own."""
    key = support.fresh_key(prefix)
    conn = support.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT hacienda_configure(%s, %s, %s)", (key, capacity, refill_rate))
    finally:
        conn.close()
    return key


class OdooLikeCursor:
    """A cursor with only the methods of Odoo's env.cr that the client may use.

    Errors come through as psycopg2's, as they do from env.cr.  No description,
    no rowcount, no context manager.
    """

    __slots__ = ("_cur",)

    def __init__(self, conn):
        self._cur = conn.cursor()

    def execute(self, query, params=None):
        self._cur.execute(query, params)

    def fetchone(self):
        return self._cur.fetchone()

    def fetchall(self):
        return self._cur.fetchall()

    def dictfetchone(self):
        row = self._cur.fetchone()
        return None if row is None else dict(zip([d[0] for d in self._cur.description], row))


class ClientTest(unittest.TestCase):

    def setUp(self):
        self.conn = support.connect()
        self.addCleanup(self.conn.close)
        self.cr = self.conn.cursor()

    def counters(self, key):
        st = support.status(self.conn, key)
        return st["total_requests"], st["rejected_requests"]

    def test_try_acquire_token_until_empty(self):
        """try_acquire_token grants the capacity, then refuses without waiting."""
        key = configured_key("cl-try", 3, SLOW_RATE)

        results = [hr.try_acquire_token(self.cr, key) for _ in range(4)]

        self.assertEqual(results, [True, True, True, False])
        self.assertEqual(self.counters(key), (3, 1))

    def test_try_acquire_token_several_tokens(self):
        """A request for several tokens is granted whole or not at all."""
        key = configured_key("cl-many", 5, SLOW_RATE)

        self.assertIs(hr.try_acquire_token(self.cr, key, 3), True)
        self.assertIs(hr.try_acquire_token(self.cr, key, 3), False)
        self.assertIs(hr.try_acquire_token(self.cr, key, tokens=2), True)
        self.assertLess(hr.get_available_tokens(self.cr, key)["tokens"], 1.0)

    def test_tokens_must_be_whole(self):
        """A fractional token count is refused in Python instead of rounded by SQL."""
        key = configured_key("cl-whole", 5, SLOW_RATE)

        with self.assertRaises(TypeError):
            hr.try_acquire_token(self.cr, key, 1.5)
        with self.assertRaises(TypeError):
            hr.acquire_token(self.cr, 0, key, 2.0)
        self.assertEqual(self.counters(key), (0, 0))

    def test_acquire_token_waits_for_the_refill(self):
        """acquire_token on an empty bucket waits for its token and returns True."""
        key = configured_key("cl-wait", 1, 20)
        self.assertTrue(hr.try_acquire_token(self.cr, key))

        self.assertIs(hr.acquire_token(self.cr, 10, key), True)

        st = support.status(self.conn, key)
        self.assertEqual((st["total_requests"], st["waiting"]), (2, 0))

    def test_get_available_tokens_of_an_unused_key(self):
        """An unused key shows a full bucket with the default limits."""
        key = support.fresh_key("cl-status")

        available = hr.get_available_tokens(self.cr, key)

        self.assertEqual(available, {
            "tokens": support.DEFAULTS["capacity"],
            "capacity": int(support.DEFAULTS["capacity"]),
            "refill_rate": support.DEFAULTS["refill_rate"],
            "total_requests": 0,
            "last_request": None,
            "utilization": 0.0,
        })

    def test_get_available_tokens_after_use(self):
        """After a grant the dict shows the tokens left, the count and the time."""
        key = configured_key("cl-used", 20, SLOW_RATE)
        before = datetime.datetime.now(datetime.timezone.utc)
        self.assertTrue(hr.try_acquire_token(self.cr, key, 5))

        available = hr.get_available_tokens(self.cr, key)

        self.assertEqual(set(available), {"tokens", "capacity", "refill_rate",
                                          "total_requests", "last_request", "utilization"})
        self.assertAlmostEqual(available["tokens"], 15.0, delta=0.01)
        self.assertEqual((available["capacity"], available["refill_rate"]), (20, SLOW_RATE))
        self.assertEqual(available["total_requests"], 1)
        self.assertAlmostEqual(available["utilization"], 25.0, delta=0.1)
        slack = datetime.timedelta(seconds=5)
        self.assertGreater(available["last_request"], before - slack)
        self.assertLess(available["last_request"],
                        datetime.datetime.now(datetime.timezone.utc) + slack)

    def test_reset_refills_the_bucket(self):
        """reset gives an exhausted bucket its whole capacity back."""
        key = configured_key("cl-reset", 4, SLOW_RATE)
        self.assertTrue(hr.try_acquire_token(self.cr, key, 4))
        self.assertFalse(hr.try_acquire_token(self.cr, key))

        self.assertIsNone(hr.reset(self.cr, key))

        self.assertEqual(hr.get_available_tokens(self.cr, key)["tokens"], 4.0)
        self.assertTrue(hr.try_acquire_token(self.cr, key, 4))

    def test_throttle_says_when_to_come_back(self):
        """throttle grants like try_acquire_token and gives the wait when it refuses."""
        key = configured_key("cl-throttle", 2, 0.01)

        first = hr.throttle(self.cr, key)
        second = hr.throttle(self.cr, key)
        refused = hr.throttle(self.cr, key)

        self.assertEqual((first["allowed"], first["remaining"], first["retry_after"]),
                         (True, 1, 0.0))
        self.assertEqual((second["allowed"], second["remaining"]), (True, 0))
        self.assertEqual((refused["allowed"], refused["remaining"]), (False, 0))
        # One token at 0.01/s is 100 s away, less what has refilled since.
        self.assertGreater(refused["retry_after"], 90.0)
        self.assertLessEqual(refused["retry_after"], 100.0)
        self.assertAlmostEqual(refused["reset_after"], 2 * refused["retry_after"], delta=1.0)
        self.assertEqual(self.counters(key), (2, 1))

    def test_rate_limiter_binds_cursor_and_key(self):
        """RateLimiter's methods act on its own key only."""
        key = configured_key("cl-class", 2, SLOW_RATE)
        other = configured_key("cl-other", 2, SLOW_RATE)
        limiter = hr.RateLimiter(self.cr, key)

        self.assertTrue(limiter.try_acquire())
        self.assertTrue(limiter.acquire(timeout=1))
        self.assertFalse(limiter.try_acquire())
        self.assertFalse(limiter.throttle()["allowed"])
        self.assertEqual(limiter.available()["total_requests"], 2)
        limiter.reset()

        self.assertEqual(limiter.available()["tokens"], 2.0)
        self.assertEqual(self.counters(other), (0, 0))

    def test_odoo_like_cursor(self):
        """Every function works through a cursor with only Odoo's env.cr methods."""
        key = configured_key("cl-odoo", 3, SLOW_RATE)
        cr = OdooLikeCursor(self.conn)

        self.assertTrue(hr.try_acquire_token(cr, key))
        self.assertTrue(hr.acquire_token(cr, 1, key, 2))
        self.assertFalse(hr.try_acquire_token(cr, key))
        self.assertFalse(hr.throttle(cr, key)["allowed"])
        self.assertEqual(hr.get_available_tokens(cr, key)["total_requests"], 2)
        with self.assertRaises(hr.AcquireTimeout) as caught:
            hr.acquire_token(cr, 1, key)
        self.assertIsInstance(caught.exception.__cause__, psycopg2.Error)
        hr.reset(cr, key)
        self.assertEqual(hr.get_available_tokens(cr, key)["tokens"], 3.0)

        cr.execute("SELECT * FROM hacienda_status(%s)", (key,))
        self.assertEqual(cr.dictfetchone()["total_requests"], 2)


if __name__ == "__main__":
    unittest.main()
