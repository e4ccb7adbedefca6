"""Waiters that a reset or a change of a key's limits must wake at once.

A waiter sleeps until its reservation should be due.  hacienda_reset() makes
every reservation due now, and hacienda_configure() moves the due times
either way; each wakes the bucket's waiters so they look again instead of
sleeping out the old schedule.  Each test gives its key limits of its own,
slow enough (1 token per second) that a waiter sleeping out the old
schedule is told apart from one woken at once.

Run with /usr/bin/python3 against the server scripts/test starts.
"""

import time
import unittest

import support
from support import RATE_LIMIT_TIMEOUT, fresh_key, scalar, status, wait_until_sleeping
from waiting_case import ACQUIRE, CAPACITY, WaiterTestCase, timed_error

CONFIGURE = "SELECT hacienda_configure(%s, %s, %s)"
UNCONFIGURE = "SELECT hacienda_unconfigure(%s)"

# Far less than the old schedule's next slot (1 s), far more than a wake-up.
PROMPT = 0.5


def setUpModule():
    support.ensure_extension()


class WakeupTest(WaiterTestCase):

    def slow_key(self, prefix, rate=1.0):
        """A fresh key with capacity 20 and rate tokens per second, unconfigured at cleanup."""
        key = fresh_key(prefix)
        scalar(self.conn, CONFIGURE, (key, CAPACITY, rate))
        self.addCleanup(scalar, self.conn, UNCONFIGURE, (key,))
        return key

    def queue(self, key, count, tokens=1, timeout=30):
        """Exhaust key and queue count waiters behind it; return (exhausted, threads)."""
        threads = self.waiters(count, key, tokens, timeout)
        exhausted = self.exhaust(key)
        for thread in threads:
            thread.start()
            wait_until_sleeping(self.conn, [thread])
        self.assertEqual(status(self.conn, key)["waiting"], count)
        return exhausted, threads

    def test_reset_serves_the_queue_at_once(self):
        """Reset with 3 waiters due at 1, 2 and 3 s: all return at once, bucket full."""
        key = self.slow_key("wake-reset")
        exhausted, threads = self.queue(key, 3)
        self.assertLess(time.monotonic() - exhausted, 0.5, "setup too slow to tell")

        reset_at = time.monotonic()
        scalar(self.conn, "SELECT hacienda_reset(%s)", (key,))
        self.join_all(threads, timeout=5.0)

        self.assertEqual([t.result for t in threads], [True] * 3, [t.outcome() for t in threads])
        late = [round(t.ended - reset_at, 3) for t in threads]
        self.assertLess(max(late), PROMPT, "waiters returned %r s after the reset" % late)
        after = status(self.conn, key)
        self.assertEqual(after["waiting"], 0)
        self.assertEqual(after["tokens"], CAPACITY, "a reset forgives the queue's debt")

    def test_faster_rate_moves_the_queue_up(self):
        """Rate 1/s raised to 100/s with waiters due at 1 and 2 s: both return at once."""
        key = self.slow_key("wake-faster")
        exhausted, threads = self.queue(key, 2)
        self.assertLess(time.monotonic() - exhausted, 0.5, "setup too slow to tell")

        changed_at = time.monotonic()
        scalar(self.conn, CONFIGURE, (key, CAPACITY, 100))
        self.join_all(threads, timeout=5.0)

        self.assertEqual([t.result for t in threads], [True] * 2, [t.outcome() for t in threads])
        late = [round(t.ended - changed_at, 3) for t in threads]
        self.assertLess(max(late), PROMPT, "waiters returned %r s after the change" % late)
        self.assertEqual(status(self.conn, key)["waiting"], 0)

    def test_slower_rate_fails_a_wait_that_no_longer_fits(self):
        """10 tokens due at 1 s, timeout 2 s; rate cut to 0.5/s: RL001 at once, tokens back."""
        key = self.slow_key("wake-slower", rate=10.0)
        exhausted, (waiter,) = self.queue(key, 1, tokens=10, timeout=2)
        self.assertLess(time.monotonic() - exhausted, 0.5, "setup too slow to tell")

        changed_at = time.monotonic()
        scalar(self.conn, CONFIGURE, (key, CAPACITY, 0.5))
        waiter.join(5.0)

        self.assertEqual(waiter.pgcode, RATE_LIMIT_TIMEOUT, waiter.outcome())
        self.assertLess(waiter.ended - changed_at, PROMPT,
                        "the hopeless wait took %.3f s to fail" % (waiter.ended - changed_at))
        after = status(self.conn, key)
        self.assertEqual(after["waiting"], 0)
        # Refill until the change (at most 0.5 s at 10/s), then at 0.5/s: without the
        # 10 reserved tokens back the level would be below zero.
        self.assertGreater(after["tokens"], 0.0, "the reservation was not given back: %r" % after)
        self.assertLess(after["tokens"], 6.0, after)

    def test_slower_rate_within_timeout_still_serves(self):
        """1 token due at 0.1 s, rate cut to 2/s: it still fits the timeout and is granted."""
        key = self.slow_key("wake-fits", rate=10.0)
        exhausted, (waiter,) = self.queue(key, 1, timeout=5)

        scalar(self.conn, CONFIGURE, (key, CAPACITY, 2))
        waiter.join(5.0)

        self.assertIs(waiter.result, True, waiter.outcome())
        self.assertGreaterEqual(waiter.ended - exhausted, 0.1 - 0.01, "granted before its slot")
        self.assertEqual(status(self.conn, key)["waiting"], 0)


if __name__ == "__main__":
    unittest.main()
