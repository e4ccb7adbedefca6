"""hacienda_acquire() waiting: first come first served, fail fast, visible waits.

Every test uses keys of its own under the default limits (capacity 20, refill
10 tokens per second), so one token comes due every 0.1 s once a key is
exhausted.  Times are time.monotonic(), the clock the extension uses too, so a
client reading taken after a call returns is never earlier than the moment the
server handled it.

Run with /usr/bin/python3 against the server scripts/test starts.
"""

import time
import unittest

import support
from support import (INVALID_PARAMETER_VALUE, RATE_LIMIT_TIMEOUT, fresh_key, poll_until, scalar,
                     status, wait_until_sleeping)
from waiting_case import (ACQUIRE, CAPACITY, RATE, SLOT, TRY_ACQUIRE, WaiterTestCase,
                          timed_error)


def setUpModule():
    support.ensure_extension()
    support.require_default_limits()


class WaitingTest(WaiterTestCase):

    def start_in_order(self, threads, spacing=0.03):
        """Start threads one by one, each after the previous one sleeps in the queue."""
        for thread in threads:
            next_start = time.monotonic() + spacing
            thread.start()
            wait_until_sleeping(self.conn, [thread])
            time.sleep(max(0.0, next_start - time.monotonic()))

    def test_waiters_return_in_arrival_order(self):
        """FIFO: 8 queued waiters return in arrival order, ~0.1 s apart, none times out."""
        key = fresh_key("fifo")
        threads = self.waiters(8, key)
        exhausted = self.exhaust(key)
        self.start_in_order(threads)
        self.join_all(threads)

        outcomes = [t.outcome() for t in threads]
        self.assertEqual([t.result for t in threads], [True] * len(threads), outcomes)
        ends = [t.ended for t in threads]
        order = sorted(range(len(threads)), key=lambda i: ends[i])
        self.assertEqual(order, list(range(len(threads))),
                         "return order differs from arrival order; return times %r"
                         % [round(e - exhausted, 3) for e in ends])
        # The first slot is one refill period after the key ran dry.
        first = ends[0] - exhausted
        self.assertTrue(0.5 * SLOT <= first <= 4 * SLOT, "first waiter after %.3f s" % first)
        gaps = [b - a for a, b in zip(ends, ends[1:])]
        for gap in gaps:
            self.assertTrue(0.4 * SLOT <= gap <= 3 * SLOT,
                            "gaps between grants %r, expected about %.1f s"
                            % ([round(g, 3) for g in gaps], SLOT))
        span = ends[-1] - ends[0]
        expected = SLOT * (len(threads) - 1)
        self.assertTrue(0.8 * expected <= span <= expected + 0.4,
                        "grants spread over %.3f s, expected about %.1f s" % (span, expected))
        self.assertEqual(status(self.conn, key)["waiting"], 0)

    def test_try_acquire_cannot_overtake_waiters(self):
        """try_acquire gets nothing while waiters queue, until they are served and refilled."""
        key = fresh_key("overtake")
        threads = self.waiters(8, key)
        self.exhaust(key)
        for thread in threads:
            thread.start()
        wait_until_sleeping(self.conn, threads)
        rejected_before = status(self.conn, key)["rejected_requests"]

        attempts = []  # (started, ended, granted)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            started = time.monotonic()
            granted = scalar(self.conn, TRY_ACQUIRE, (key, 1))
            attempts.append((started, time.monotonic(), granted))
            if granted:
                break
            time.sleep(0.01)
        self.join_all(threads)

        self.assertEqual([t.result for t in threads], [True] * len(threads),
                         [t.outcome() for t in threads])
        last_waiter = max(t.ended for t in threads)
        self.assertEqual([round(a[1] - last_waiter, 3) for a in attempts
                          if a[2] and a[1] <= last_waiter], [],
                         "try_acquire succeeded this long before the last waiter was served")
        early = [a for a in attempts if a[1] < last_waiter]
        self.assertGreaterEqual(len(early), 5, "too few attempts while the queue was there")
        self.assertTrue(attempts[-1][2], "try_acquire never succeeded after the queue drained")
        # Once the queue is gone the next token is one refill period away.
        self.assertLess(attempts[-1][1] - last_waiter, 1.0)
        refused = sum(1 for a in attempts if not a[2])
        after = status(self.conn, key)
        self.assertEqual(after["rejected_requests"] - rejected_before, refused)
        self.assertEqual(after["waiting"], 0)

    def test_hopeless_wait_fails_fast_with_full_request(self):
        """Fail fast: 20 tokens 1.5 s away with timeout 0.5 raise RL001 at once, taking nothing."""
        key = fresh_key("fast20")
        exhausted = self.exhaust(key)
        time.sleep(0.5)  # about 5 tokens back: a reservation would show as 0 tokens
        before_read = time.monotonic()
        before = status(self.conn, key)
        code, elapsed = timed_error(self.conn, ACQUIRE, (0.5, key, CAPACITY))
        after = status(self.conn, key)
        after_read = time.monotonic()

        self.assertEqual(code, RATE_LIMIT_TIMEOUT)
        self.assertLess(elapsed, 0.4, "the refusal took %.3f s" % elapsed)
        self.assertEqual(after["rejected_requests"], before["rejected_requests"] + 1)
        self.assertEqual(after["total_requests"], before["total_requests"])
        self.assertEqual(after["waiting"], 0)
        # Nothing taken: the level only rose by the refill in between.
        self.assertGreater(before["tokens"], 2.0,
                           "setup: %.3f tokens %.3f s after exhaustion"
                           % (before["tokens"], before_read - exhausted))
        self.assertGreaterEqual(after["tokens"], before["tokens"] - 1e-6)
        self.assertLessEqual(after["tokens"],
                             before["tokens"] + RATE * (after_read - before_read) + 0.05)

    def test_hopeless_wait_behind_queue_fails_fast(self):
        """Fail fast: with the next slot ~2 s away behind a waiter, acquire(0.5) raises RL001."""
        key = fresh_key("fastq")
        exhausted = self.exhaust(key)
        (ahead,) = self.waiters(1, key, tokens=CAPACITY)
        ahead.start()
        wait_until_sleeping(self.conn, [ahead])
        before = status(self.conn, key)
        code, elapsed = timed_error(self.conn, ACQUIRE, (0.5, key, 1))
        after = status(self.conn, key)
        checked = time.monotonic()

        self.assertEqual(code, RATE_LIMIT_TIMEOUT)
        self.assertLess(elapsed, 0.4, "the refusal took %.3f s" % elapsed)
        self.assertEqual(before["waiting"], 1, ahead.outcome())
        self.assertEqual(after["waiting"], 1, "the refused call left a reservation behind")
        self.assertEqual(after["rejected_requests"], before["rejected_requests"] + 1)
        self.assertEqual(after["total_requests"], before["total_requests"])
        # The one queued reservation is all the debt: the next token for a new
        # caller is due 2.1 s after exhaustion, not later.
        self.assertLessEqual(after["retry_after"],
                             exhausted + (CAPACITY + 1) * SLOT - checked + 0.05,
                             "the refused call pushed the next free token back")

    def test_waiter_shows_extension_wait_in_pg_stat_activity(self):
        """pg_stat_activity shows a waiter as state 'active', wait_event_type 'Extension'."""
        key = fresh_key("activity")
        self.exhaust(key)
        (waiter,) = self.waiters(1, key, tokens=10)
        waiter.start()

        def row():
            with self.conn.cursor() as cur:
                cur.execute("SELECT state, wait_event_type, wait_event, query "
                            "FROM pg_stat_activity WHERE pid = %s", (waiter.pid,))
                return cur.fetchone()

        seen = []
        poll_until(lambda: seen.append(row()) or seen[-1][1] == "Extension", 2.0)
        state, wait_event_type, wait_event, query = seen[-1]
        self.assertEqual(wait_event_type, "Extension", "last seen: %r" % (seen[-1],))
        self.assertEqual(wait_event, "Extension")
        self.assertEqual(state, "active")
        self.assertIn("hacienda_acquire", query)
        self.assertEqual(status(self.conn, key)["waiting"], 1)
        self.assertFalse(waiter.done(), waiter.outcome())

    def test_requests_beyond_capacity_fail_at_once(self):
        """F10: 25 tokens, 0 and -1 tokens raise 22023 at once and take nothing."""
        key = fresh_key("f10")
        exhausted = self.exhaust(key)
        time.sleep(0.3)  # about 3 tokens back: any reservation would show as 0
        before = status(self.conn, key)
        calls = [
            (TRY_ACQUIRE, (key, CAPACITY + 5)),
            (ACQUIRE, (5, key, CAPACITY + 5)),
            (TRY_ACQUIRE, (key, 0)),
            (TRY_ACQUIRE, (key, -1)),
            (ACQUIRE, (5, key, 0)),
            (ACQUIRE, (5, key, -1)),
        ]
        for sql, args in calls:
            with self.subTest(sql=sql, args=args):
                code, elapsed = timed_error(self.conn, sql, args)
                self.assertEqual(code, INVALID_PARAMETER_VALUE)
                self.assertLess(elapsed, 0.5, "the error took %.3f s" % elapsed)
        checked = time.monotonic()
        after = status(self.conn, key)

        self.assertEqual(after["total_requests"], before["total_requests"])
        self.assertEqual(after["rejected_requests"], before["rejected_requests"])
        self.assertEqual(after["waiting"], 0)
        self.assertGreaterEqual(after["tokens"], before["tokens"] - 1e-6)
        self.assertGreaterEqual(after["tokens"], RATE * (checked - exhausted) - 0.05)

        # A key that has never been used stays untouched as well.
        untouched = fresh_key("f10-new")
        for sql, args in ((TRY_ACQUIRE, (untouched, CAPACITY + 5)),
                          (ACQUIRE, (5, untouched, CAPACITY + 5))):
            code, elapsed = timed_error(self.conn, sql, args)
            self.assertEqual(code, INVALID_PARAMETER_VALUE)
            self.assertLess(elapsed, 0.5)
        fresh = status(self.conn, untouched)
        self.assertEqual((fresh["tokens"], fresh["total_requests"], fresh["rejected_requests"]),
                         (float(CAPACITY), 0, 0))


if __name__ == "__main__":
    unittest.main()
