"""Many real sessions on one bucket: bursts and the refill envelope.

Every session has its own connection, so each call runs in its own backend
and the buckets' shared memory and locks are what keep the count.  Client
times come from time.monotonic(), the CLOCK_MONOTONIC the buckets use, so
whatever the server did for a call happened between its send and receive.
"""

import threading
import time
import unittest

import support

CAPACITY = int(support.DEFAULTS["capacity"])
RATE = support.DEFAULTS["refill_rate"]
TRY_SQL = "SELECT hacienda_try_acquire(%s)"


def setUpModule():
    support.ensure_extension()


class ConcurrencyTest(unittest.TestCase):

    def open_sessions(self, count):
        conns = [support.connect() for _ in range(count)]
        for conn in conns:
            self.addCleanup(conn.close)
        return conns

    def assert_counters(self, key, granted, refused):
        """hacienda_status agrees with what the clients saw."""
        conn = support.connect()
        try:
            st = support.status(conn, key)
        finally:
            conn.close()
        self.assertEqual(st["total_requests"], granted, "total_requests of %s" % key)
        self.assertEqual(st["rejected_requests"], refused, "rejected_requests of %s" % key)
        self.assertEqual(st["waiting"], 0)

    def test_f05_barrier_burst_grants_exactly_capacity(self):
        """F05: 25 sessions released at once on a fresh key get exactly 20 grants."""
        sessions, rounds = 25, 10
        conns = self.open_sessions(sessions)
        for _ in range(rounds):
            key = support.fresh_key("f05")
            barrier = threading.Barrier(sessions)
            results = [None] * sessions

            def call(i):
                barrier.wait(30)
                results[i] = support.timed_row(conns[i], TRY_SQL, (key,))

            support.run_threads(sessions, call)
            granted = sum(1 for _, _, row in results if row[0])
            statements = [(send, recv, int(row[0]), not row[0]) for send, recv, row in results]
            lo, hi = support.grant_bounds(CAPACITY, RATE, statements)
            # The calls normally all fit in a few ms, so the bounds are [20, 20].
            self.assertTrue(lo <= granted <= hi,
                            "%d of %d simultaneous calls granted on %s; a bucket of %d "
                            "at %g/s allows [%d, %d]"
                            % (granted, sessions, key, CAPACITY, RATE, lo, hi))
            self.assert_counters(key, granted, sessions - granted)

    def test_envelope_with_real_sessions(self):
        """Envelope: 16 sessions hammering one key stay within capacity + rate x time."""
        sessions, duration = 16, 5.0
        conns = self.open_sessions(sessions)
        key = support.fresh_key("envelope")
        barrier = threading.Barrier(sessions)
        records = [[] for _ in range(sessions)]

        def hammer(i):
            log = records[i]
            with conns[i].cursor() as cur:
                barrier.wait(30)
                deadline = time.monotonic() + duration
                while True:
                    send = time.monotonic()
                    if send >= deadline:
                        break
                    cur.execute(TRY_SQL, (key,))
                    ok = cur.fetchone()[0]
                    log.append((send, time.monotonic(), ok))

        support.run_threads(sessions, hammer)
        calls = [c for log in records for c in log]
        grants = sorted((send, recv) for send, recv, ok in calls if ok)
        refused = len(calls) - len(grants)

        # The whole run: at most 20 + 10 x (last receive - first send) grants, and,
        # since demand far exceeds the refill, at least 20 + 10 x (inner span) - 1.
        lo, hi = support.grant_bounds(CAPACITY, RATE, [(s, r, int(ok), not ok)
                                                        for s, r, ok in calls])
        self.assertGreater(refused, 0, "16 sessions never saw a refusal")
        self.assertTrue(lo <= len(grants) <= hi,
                        "%d grants in %d calls over %.3f s; the envelope allows [%d, %d]"
                        % (len(grants), len(calls),
                           max(c[1] for c in calls) - min(c[0] for c in calls), lo, hi))

        # Every window [a, b]: grants seen entirely inside it happened inside it on
        # the server, so there are at most 20 + 10 x (b - a) of them.  Windows from
        # a grant's send to a grant's receive are the tightest ones.
        worst = None
        for a, _ in grants:
            inside = sorted(recv for send, recv in grants if send >= a)
            for count, b in enumerate(inside, start=1):
                allowed = CAPACITY + int(RATE * (b - a) + 1e-6)
                if worst is None or count - allowed > worst[0]:
                    worst = (count - allowed, count, allowed, b - a)
        self.assertLessEqual(worst[0], 0,
                             "%d grants inside a window of %.6f s; at most %d allowed"
                             % (worst[1], worst[3], worst[2]))

        self.assert_counters(key, len(grants), refused)


if __name__ == "__main__":
    unittest.main()
