"""Capacity and refill rate change on reload, without a restart.

support.set_limits() changes the settings with ALTER SYSTEM and a reload and
returns once a new session sees them; every test here puts the defaults back.
"""

import time
import unittest

import support

TRY_SQL = "SELECT hacienda_try_acquire(%s)"
SETTINGS_SQL = ("SELECT current_setting('hacienda_ratelimit.capacity')::int, "
                "current_setting('hacienda_ratelimit.refill_rate')::float8")


def settings(conn):
    """(capacity, refill_rate) as the session sees them."""
    with conn.cursor() as cur:
        cur.execute(SETTINGS_SQL)
        return cur.fetchone()


def setUpModule():
    support.ensure_extension()


class ReloadTest(unittest.TestCase):

    def assert_between(self, value, lo, hi, what):
        self.assertTrue(lo <= value <= hi, "%s: got %r, expected within [%r, %r]"
                        % (what, value, lo, hi))

    def session(self):
        conn = support.connect()
        self.addCleanup(conn.close)
        return conn

    def assert_refill_after_sync(self, conn, key, rate, expected):
        """Level zero, then 1 s later exactly `expected` grants (rate x 1 s)."""
        ready_lo, ready_hi, seen_rate = support.sync_to_token(conn, key)
        self.assertEqual(seen_rate, rate)
        time.sleep(1.0)
        send, recv, grants, last_refused = support.count_grants(conn, key, 100)
        lo, hi = support.grants_since_sync(ready_lo, ready_hi, rate, send, recv, last_refused)
        self.assertGreaterEqual(lo, expected)
        self.assert_between(grants, lo, hi, "grants 1 s after the level was 0 at %g/s" % rate)

    def test_reload_applies_new_limits(self):
        """Reload: capacity 5 and 2/s reach new sessions and old buckets; defaults come back."""
        before = self.session()
        old_key = support.fresh_key("reload-old")
        # A bucket made under the defaults, holding 19 tokens and more.
        self.assertTrue(support.scalar(before, TRY_SQL, (old_key,)))
        new_key = support.fresh_key("reload-new")
        try:
            support.set_limits(capacity=5, refill_rate=2)
            conn = self.session()
            self.assertEqual(settings(conn), (5, 2.0))

            # The old bucket is trimmed to the new capacity.
            st = support.status(conn, old_key)
            self.assertEqual((st["capacity"], st["refill_rate"]), (5, 2.0))
            self.assertEqual(st["tokens"], 5.0)
            send, recv, grants, _ = support.count_grants(conn, old_key, 100)
            self.assert_between(grants, 5, 5 + int(2 * (recv - send)),
                                "grants of a 20-token bucket trimmed to 5")

            # A new bucket starts with 5 tokens and refills at 2 per second.
            first = support.count_grants(conn, new_key, 100)
            self.assert_between(first[2], *support.grant_bounds(5, 2.0, [first]),
                                what="grants of a new bucket of 5")
            self.assert_refill_after_sync(conn, new_key, 2.0, 2)

            # The session opened before the reload follows it too, once it has
            # read the reload signal (before its next statement).
            deadline = time.monotonic() + 10
            while settings(before) != (5, 2.0):
                self.assertLess(time.monotonic(), deadline, "old session missed the reload")
                time.sleep(0.05)
            st = support.status(before, old_key)
            self.assertEqual((st["capacity"], st["refill_rate"]), (5, 2.0))
        finally:
            support.set_limits()

        # Back to 20 and 10/s.  Raising the capacity adds no tokens by itself...
        conn = self.session()
        st = support.status(conn, new_key)
        self.assertEqual((st["capacity"], st["refill_rate"]), (20, 10.0))
        self.assertLessEqual(st["tokens"], 5.0)
        # ...but the bucket now fills past 5 at 10 per second.
        self.assert_refill_after_sync(conn, new_key, 10.0, 10)

    def test_reload_reaches_sessions_already_waiting(self):
        """Reload from 1/s to 100/s with waiters due at 1 and 2 s: both return at once.

        The reload's signal wakes the waiters, and the first call under the
        new rate wakes them too; either way they follow the published rate
        although their own sessions have not read the reload yet.
        """
        key = support.fresh_key("reload-waiting")
        threads = []
        self.addCleanup(support.stop_statement_threads, threads)
        try:
            support.set_limits(refill_rate=1)
            conn = self.session()
            self.assertTrue(support.scalar(conn, "SELECT hacienda_try_acquire(%s, 20)", (key,)))
            exhausted = time.monotonic()
            for _ in range(2):
                threads.append(support.StatementThread(
                    "SELECT hacienda_acquire(30, %s)", (key,)))
                threads[-1].start()
                support.wait_until_sleeping(conn, threads[-1:])

            support.set_limits(refill_rate=100)
            self.assertLess(time.monotonic() - exhausted, 0.8, "setup too slow to tell")
            changed_at = time.monotonic()
            conn = self.session()
            support.scalar(conn, TRY_SQL, (key,))
            for thread in threads:
                thread.join(5.0)
        finally:
            support.set_limits()

        self.assertEqual([t.result for t in threads], [True, True],
                         [t.outcome() for t in threads])
        late = [round(t.ended - changed_at, 3) for t in threads]
        self.assertLess(max(late), 0.5, "waiters returned %r s after the new rate" % late)
        self.assertEqual(support.status(self.session(), key)["waiting"], 0)

    def test_statement_running_across_a_reload_follows_it(self):
        """A statement running across a reload from 10/s to 1/s cannot bring 10/s back.

        Session A calls try_acquire every 10 ms in one long statement, started
        before the reload, so its own settings stay at 10/s; session B calls
        every 10 ms after the reload.  Both share the bucket, and together
        they get no more than 20 + 10 x (time to the reload) + 1 x (the rest).
        """
        key = support.fresh_key("reload-stale")
        long_sql = ("SELECT count(*) FILTER (WHERE g) FROM (SELECT hacienda_try_acquire(%s) AS g, "
                    "pg_sleep(0.01) FROM generate_series(1, 400)) AS calls")
        stale = support.StatementThread(long_sql, (key,))
        self.addCleanup(support.stop_statement_threads, [stale])
        conn = self.session()
        b_grants = 0
        try:
            started = time.monotonic()
            stale.start()
            time.sleep(0.5)
            support.set_limits(refill_rate=1)
            reloaded = time.monotonic()
            while not stale.done() and time.monotonic() < started + 30:
                b_grants += int(support.scalar(conn, TRY_SQL, (key,)))
                time.sleep(0.01)
            stale.join(30)
            ended = time.monotonic()
        finally:
            support.set_limits()

        self.assertIsNone(stale.error, stale.outcome())
        total = stale.result + b_grants
        bound = 20 + 10 * (reloaded - started) + 1 * (ended - reloaded) + 1
        self.assertEqual(support.status(conn, key)["total_requests"], total)
        self.assertLessEqual(total, bound, "%d grants (%d in the old statement) over %.1f s; "
                             "the old rate came back" % (total, stale.result, ended - started))

    def test_idle_bucket_follows_a_reload_from_when_it_happened(self):
        """A bucket unused across a reload refills under the old rate only up to the reload.

        Drained at 10/s, then the rate falls to 0.01/s and the bucket sits
        unused for 2 s: it has only what it earned before the reload.  Drained
        at 0.01/s, then the rate rises to 100/s: a second later it is full.
        """
        slow_key = support.fresh_key("reload-idle-slow")
        fast_key = support.fresh_key("reload-idle-fast")
        conn = self.session()
        try:
            drained = time.monotonic()
            self.assertTrue(support.scalar(conn, "SELECT hacienda_try_acquire(%s, 20)",
                                           (slow_key,)))
            support.set_limits(refill_rate=0.01)
            reloaded = time.monotonic()
            time.sleep(2.0)
            send, recv, slow_grants, _ = support.count_grants(conn, slow_key, 100)

            self.assertTrue(support.scalar(conn, "SELECT hacienda_try_acquire(%s, 20)",
                                           (fast_key,)))
            support.set_limits(refill_rate=100)
            time.sleep(1.0)
            fast_grants = support.count_grants(conn, fast_key, 100)[2]
        finally:
            support.set_limits()

        bound = 10 * (reloaded - drained) + 0.01 * (recv - drained) + 1
        self.assertLessEqual(slow_grants, bound, "%d grants after the rate fell; the idle "
                             "time refilled at the old rate" % slow_grants)
        self.assertEqual(fast_grants, 20, "the idle time did not refill at the new rate")


if __name__ == "__main__":
    unittest.main()
