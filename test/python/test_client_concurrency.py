"""The Python client under many sessions: burst, simultaneous calls, sustained demand.

Each thread has its own connection, so every call runs in its own backend and
the extension's shared memory is what keeps the count.  The burst and the
simultaneous calls use a refill of one token per 1000 s, so exactly the
capacity is granted however the calls spread in time; the sustained test
checks the envelope from client-side monotonic times (the clock the buckets
refill from), with bounds that hold whatever the machine's speed.
"""

import os
import sys
import threading
import time
import unittest

import support

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "clients", "python"))
import hacienda_ratelimit as hr  # noqa: E402

CAPACITY = 20
SLOW_RATE = 0.001


def setUpModule():
    support.ensure_extension()


class ClientConcurrencyTest(unittest.TestCase):

    def setUp(self):
        self.admin = support.connect()
        self.addCleanup(self.admin.close)

    def configured_key(self, prefix, capacity, refill_rate):
        """A fresh key with limits of its own."""
        key = support.fresh_key(prefix)
        with self.admin.cursor() as cur:
            cur.execute("SELECT hacienda_configure(%s, %s, %s)", (key, capacity, refill_rate))
        return key

    def open_cursors(self, count):
        """count cursors, each on a connection of its own, closed after the test."""
        conns = [support.connect() for _ in range(count)]
        for conn in conns:
            self.addCleanup(conn.close)
        return [conn.cursor() for conn in conns]

    def test_burst_is_exactly_the_capacity(self):
        """20 grants in a row, the 21st refused; after reset, 20 again."""
        key = self.configured_key("cc-burst", CAPACITY, SLOW_RATE)
        cr = self.admin.cursor()

        first = [hr.try_acquire_token(cr, key) for _ in range(CAPACITY + 1)]
        hr.reset(cr, key)
        second = [hr.try_acquire_token(cr, key) for _ in range(CAPACITY + 1)]

        self.assertEqual(first, [True] * CAPACITY + [False])
        self.assertEqual(second, [True] * CAPACITY + [False])
        st = support.status(self.admin, key)
        self.assertEqual((st["total_requests"], st["rejected_requests"]), (40, 2))

    def test_simultaneous_calls_grant_exactly_the_capacity(self):
        """24 sessions released together get exactly 20 grants, twice over."""
        sessions = 24
        cursors = self.open_cursors(sessions)

        for round_number in range(2):
            key = self.configured_key("cc-together", CAPACITY, SLOW_RATE)
            barrier = threading.Barrier(sessions)
            results = [None] * sessions

            def call(i):
                barrier.wait(30)
                results[i] = hr.try_acquire_token(cursors[i], key)

            support.run_threads(sessions, call)

            self.assertEqual(results.count(True), CAPACITY,
                             "round %d: %r" % (round_number, results))
            self.assertEqual(results.count(False), sessions - CAPACITY)
            st = support.status(self.admin, key)
            self.assertEqual((st["total_requests"], st["rejected_requests"]),
                             (CAPACITY, sessions - CAPACITY))

    def test_sustained_demand_follows_the_rate(self):
        """8 sessions asking without pause for 2 s get capacity + rate x T, give or take one."""
        sessions, duration, capacity, rate = 8, 2.0, 5, 50.0
        key = self.configured_key("cc-sustained", capacity, rate)
        cursors = self.open_cursors(sessions)
        barrier = threading.Barrier(sessions)
        records = [[] for _ in range(sessions)]

        def hammer(i):
            barrier.wait(30)
            deadline = time.monotonic() + duration
            while True:
                send = time.monotonic()
                if send >= deadline:
                    break
                ok = hr.try_acquire_token(cursors[i], key)
                records[i].append((send, time.monotonic(), int(ok), not ok))

        support.run_threads(sessions, hammer)

        calls = [call for log in records for call in log]
        granted = sum(call[2] for call in calls)
        lo, hi = support.grant_bounds(capacity, rate, calls)
        span = max(c[1] for c in calls) - min(c[0] for c in calls)
        self.assertTrue(lo <= granted <= hi,
                        "%d grants in %d calls over %.3f s; capacity %d at %g/s allows [%d, %d]"
                        % (granted, len(calls), span, capacity, rate, lo, hi))
        self.assertGreater(len(calls) - granted, 0, "demand never exceeded the supply")
        st = support.status(self.admin, key)
        self.assertEqual((st["total_requests"], st["rejected_requests"]),
                         (granted, len(calls) - granted))


if __name__ == "__main__":
    unittest.main()
