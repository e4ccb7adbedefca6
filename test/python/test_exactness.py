"""Exact counts: refill without drift, reset, idle buckets, refusals, rollback.

Expected values are computed from client clock readings: time.monotonic() is
the CLOCK_MONOTONIC the buckets refill from, so each server-side instant lies
between the send and the receive of its statement.  The bounds are sound
whatever the scheduling; unless the machine stalls for tens of milliseconds
they collapse to the value the case calls for (or to two neighbours when the
elapsed time falls right on a token boundary).
"""

import threading
import time
import unittest

import psycopg2

import support

CAPACITY = int(support.DEFAULTS["capacity"])
RATE = support.DEFAULTS["refill_rate"]
TRY_SQL = "SELECT hacienda_try_acquire(%s)"


def setUpModule():
    support.ensure_extension()


def hammer(conn, key, duration, pause=0.0, calls=1):
    """Call try_acquire on key for duration seconds; pause seconds between statements.

    With calls > 1 each statement makes that many calls.  Returns the
    statements as (send, recv, grants, last_refused).
    """
    statements = []
    with conn.cursor() as cur:
        deadline = time.monotonic() + duration
        while True:
            if calls == 1:
                send = time.monotonic()
                if send >= deadline:
                    break
                cur.execute(TRY_SQL, (key,))
                ok = cur.fetchone()[0]
                statements.append((send, time.monotonic(), int(ok), not ok))
            else:
                if time.monotonic() >= deadline:
                    break
                statements.append(support.count_grants(conn, key, calls))
            if pause:
                time.sleep(pause)
    return statements


class ExactnessTest(unittest.TestCase):

    def assert_between(self, value, lo, hi, what):
        self.assertTrue(lo <= value <= hi, "%s: got %r, expected within [%r, %r]"
                        % (what, value, lo, hi))

    def assert_envelope(self, capacity, rate, statements, what):
        """Total grants equal capacity + rate x elapsed, within the clients' timing."""
        granted = sum(s[2] for s in statements)
        self.assertTrue(any(s[3] for s in statements), "%s: nothing was ever refused" % what)
        lo, hi = support.grant_bounds(capacity, rate, statements)
        self.assert_between(granted, lo, hi, "%s: grants in %d statements"
                            % (what, len(statements)))
        return granted

    def assert_level(self, conn, key, capacity, rate, statements, what):
        """The fraction left in the bucket is capacity + rate x elapsed - grants."""
        granted = sum(s[2] for s in statements)
        first_send = min(s[0] for s in statements)
        first_recv = min(s[1] for s in statements)
        send, recv, (tokens,) = support.timed_row(
            conn, "SELECT tokens FROM hacienda_status(%s)", (key,))
        lo = capacity + rate * (send - first_recv) - granted
        hi = capacity + rate * (recv - first_send) - granted
        self.assert_between(tokens, max(0.0, lo - 1e-6), hi + 1e-6,
                            "%s: tokens left after %d grants" % (what, granted))

    def drift_case(self, what, pause=0.0, duration=5.0):
        conn = support.connect()
        self.addCleanup(conn.close)
        rate = support.scalar(conn, "SELECT current_setting('hacienda_ratelimit.refill_rate')"
                                    "::float8")
        key = support.fresh_key("f01")
        statements = hammer(conn, key, duration, pause)
        self.assert_envelope(CAPACITY, rate, statements, what)
        self.assert_level(conn, key, CAPACITY, rate, statements, what)

    def test_f01_sixty_seconds_at_three_spacings(self):
        """F01: 60 s of calls back to back, 1 ms and 37 ms apart: 20 + 10 x elapsed each.

        The three loops run at once, each in a session and on a key of its own,
        so the whole case takes one minute.
        """
        pauses = {"tight loop": 0.0, "1 ms pauses": 0.001, "37 ms pauses": 0.037}
        conns = {name: support.connect() for name in pauses}
        for conn in conns.values():
            self.addCleanup(conn.close)
        keys = {name: support.fresh_key("f01") for name in pauses}
        names = sorted(pauses)
        results = {}

        def run(i):
            name = names[i]
            results[name] = hammer(conns[name], keys[name], 60.0, pauses[name])

        support.run_threads(len(names), run)
        for name in names:
            what = "%s for 60 s at 10/s" % name
            self.assert_envelope(CAPACITY, RATE, results[name], what)
            self.assert_level(conns[name], keys[name], CAPACITY, RATE, results[name], what)

    def test_f01_slow_rate(self):
        """F01: at 0.01 token/s the fraction earned in a tight loop is kept exactly."""
        try:
            support.set_limits(refill_rate=0.01)
            self.drift_case("tight loop at 0.01/s", duration=3.0)
        finally:
            support.set_limits()

    def test_f01_fast_rate(self):
        """F01: at 100000 tokens/s, sessions outrunning the refill get cap + rate x elapsed.

        One call takes well under a microsecond but a statement costs about 100 us,
        so each statement makes 1000 calls and three sessions run at once.  With
        a capacity of 20 any pause over 0.2 ms of every session (parsing, the
        scheduler) would fill the bucket and lose refill to the cap, which client
        timing cannot see; a capacity of 100000 (1 s of refill) rules that out.
        """
        sessions, calls, duration, capacity, rate = 3, 1000, 5.0, 100000, 100000.0
        try:
            support.set_limits(capacity=capacity, refill_rate=rate)
            conns = [support.connect() for _ in range(sessions)]
            for conn in conns:
                self.addCleanup(conn.close)
            key = support.fresh_key("f01-fast")
            barrier = threading.Barrier(sessions)
            results = [None] * sessions

            def run(i):
                barrier.wait(30)
                results[i] = hammer(conns[i], key, duration, calls=calls)

            support.run_threads(sessions, run)
            statements = [s for r in results for s in r]
            what = "%d sessions at %g/s" % (sessions, rate)
            granted = self.assert_envelope(capacity, rate, statements, what)
            self.assert_level(conns[0], key, capacity, rate, statements, what)
            st = support.status(conns[0], key)
            self.assertEqual(st["total_requests"], granted)
            self.assertEqual(st["rejected_requests"], len(statements) * calls - granted)
        finally:
            support.set_limits()

    def test_f02_reset_then_idle_minute(self):
        """F02: reset, 60 s idle: 100 calls grant 20, at once 0, a second later 10."""
        conn = support.connect()
        self.addCleanup(conn.close)
        key = support.fresh_key("f02")
        first = support.count_grants(conn, key, 100)
        self.assert_between(first[2], *support.grant_bounds(CAPACITY, RATE, [first]),
                            what="grants of a new bucket")
        support.scalar(conn, "SELECT hacienda_reset(%s)", (key,))
        self.assertEqual(support.status(conn, key)["tokens"], float(CAPACITY))

        time.sleep(60)
        send1, recv1, full, last_refused = support.count_grants(conn, key, 100)
        # The level is capped at 20; only the statement's own duration adds to it.
        self.assertTrue(last_refused)
        self.assert_between(full, CAPACITY, CAPACITY + int(RATE * (recv1 - send1)),
                            "grants after 60 s idle")

        send2, recv2, again, _ = support.count_grants(conn, key, 100)
        self.assert_between(again, 0, CAPACITY + int(RATE * (recv2 - send1)) - full,
                            "grants right after the bucket was emptied")

        ready_lo, ready_hi, rate = support.sync_to_token(conn, key)
        time.sleep(1.0)
        send3, recv3, later, last_refused = support.count_grants(conn, key, 100)
        lo, hi = support.grants_since_sync(ready_lo, ready_hi, rate, send3, recv3, last_refused)
        self.assertGreaterEqual(lo, 10)
        self.assert_between(later, lo, hi, "grants 1 s after the level was 0")

        st = support.status(conn, key)
        grants = first[2] + full + again + 1 + later
        self.assertEqual(st["total_requests"], grants)
        self.assertEqual(st["rejected_requests"], 400 + 1 - grants)

    def test_f04_refusals_do_not_stall_refill(self):
        """F04: 100000 refused calls keep the refill going: 1 s later 10 grants."""
        conn = support.connect()
        self.addCleanup(conn.close)
        key = support.fresh_key("f04")
        first = support.count_grants(conn, key, 100)
        self.assert_between(first[2], *support.grant_bounds(CAPACITY, RATE, [first]),
                            what="grants of a new bucket")

        ready_lo, ready_hi, rate = support.sync_to_token(conn, key)
        send, recv, refused_grants, last_refused = support.count_grants(conn, key, 100000)
        lo, hi = support.grants_since_sync(ready_lo, ready_hi, rate, send, recv, last_refused)
        self.assert_between(refused_grants, lo, hi, "grants among 100000 calls after the sync")

        time.sleep(1.0)
        send, recv, later, last_refused = support.count_grants(conn, key, 100)
        lo, hi = support.grants_since_sync(ready_lo, ready_hi, rate, send, recv, last_refused)
        self.assertGreaterEqual(lo, 10)
        self.assert_between(refused_grants + later, lo, hi,
                            "grants since the sync, 1 s after 100000 refusals")

        st = support.status(conn, key)
        grants = first[2] + 1 + refused_grants + later
        self.assertEqual(st["total_requests"], grants)
        self.assertEqual(st["rejected_requests"], 100 + 100000 + 100 + 1 - grants)

    def test_f06_rollback_keeps_tokens_spent(self):
        """F06: 25 calls in a transaction give 20 true and 5 false; rollback returns none."""
        conn = psycopg2.connect()
        self.addCleanup(conn.close)
        key = support.fresh_key("f06")
        results = []
        send = time.monotonic()
        with conn.cursor() as cur:
            for _ in range(25):
                cur.execute(TRY_SQL, (key,))
                results.append(cur.fetchone()[0])
        recv = time.monotonic()
        self.assertEqual(conn.get_transaction_status(),
                         psycopg2.extensions.TRANSACTION_STATUS_INTRANS)
        conn.rollback()

        granted = sum(results)
        self.assertEqual(results[:CAPACITY], [True] * CAPACITY)
        self.assert_between(granted, CAPACITY, CAPACITY + int(RATE * (recv - send)),
                            "grants among 25 calls in one transaction")

        after_send, after_recv, (after,) = support.timed_row(conn, TRY_SQL, (key,))
        conn.commit()
        allowed = CAPACITY + int(RATE * (after_recv - send)) - granted
        self.assertLessEqual(int(after), allowed, "call after rollback granted")

        st = support.status(conn, key)
        conn.commit()
        self.assertEqual(st["total_requests"], granted + after)
        self.assertEqual(st["rejected_requests"], 26 - granted - after)


if __name__ == "__main__":
    unittest.main()
