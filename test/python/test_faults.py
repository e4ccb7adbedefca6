"""hacienda_acquire() under faults: timeouts, cancels, terminated and vanished clients.

A waiter that does not get its tokens must give its reservation back, at
once, and leave its session (or the server) in working order.  Every test
uses keys of its own under the default limits (capacity 20, refill 10 tokens
per second).  Times are time.monotonic(), the clock the extension uses too.

Run with /usr/bin/python3 against the server scripts/test starts.
"""

import os
import signal
import subprocess
import sys
import threading
import time
import unittest

import psycopg2

import support
from support import (INVALID_PARAMETER_VALUE, NULL_VALUE_NOT_ALLOWED, QUERY_CANCELED,
                     RATE_LIMIT_TIMEOUT, connect, fresh_key, poll_until, scalar, sleeping_pids,
                     status, wait_until_sleeping)
from waiting_case import (ACQUIRE, CAPACITY, RATE, SLOT, TRY_ACQUIRE, WaiterTestCase,
                          timed_error)

# A client that prints its backend's pid and then waits; killed from outside.
WAITING_CLIENT = """
import sys
import psycopg2
conn = psycopg2.connect()
conn.autocommit = True
cur = conn.cursor()
cur.execute("SELECT pg_backend_pid()")
print(cur.fetchone()[0], flush=True)
cur.execute("SELECT hacienda_acquire(30, %s, %s)", (sys.argv[1], int(sys.argv[2])))
print("returned", flush=True)
"""


def setUpModule():
    support.ensure_extension()
    support.require_default_limits()


def refilled(since, now):
    """The fewest tokens a key exhausted before `since` has regained by `now`."""
    return min(float(CAPACITY), RATE * (now - since))


class FaultTest(WaiterTestCase):

    def queue_of_twenty(self, key):
        """Exhaust key and queue 20 single-token waiters: about 2 s of grants.

        Returns (clock just after exhaustion, the waiter threads, total_requests
        right after exhaustion).
        """
        threads = self.waiters(20, key)
        exhausted = self.exhaust(key)
        granted_before = status(self.conn, key)["total_requests"]
        for thread in threads:
            thread.start()
        wait_until_sleeping(self.conn, threads)
        # The next free slot must be well over a second away for the tests.
        retry_after = status(self.conn, key)["retry_after"]
        self.assertGreater(retry_after, 1.3,
                           "setup too slow: queue of 20 only %.3f s deep" % retry_after)
        return exhausted, threads, granted_before

    def assert_queue_accounts(self, key, granted_before, queued):
        """waiting + grants since the queue formed == the waiters still holding a slot."""
        now = status(self.conn, key)
        held = now["waiting"] + now["total_requests"] - granted_before
        self.assertEqual(held, queued,
                         "waiting %d + granted %d: a reservation was not given back"
                         % (now["waiting"], now["total_requests"] - granted_before))

    def assert_next_slot_not_delayed(self, key, exhausted, queued):
        """A newcomer's first token is due when only `queued` single tokens are owed.

        A reservation kept by a waiter that gave up would push it one slot later.
        """
        checked = time.monotonic()
        retry_after = status(self.conn, key)["retry_after"]
        due = exhausted + (queued + 1) * SLOT - checked
        self.assertGreater(due, 2 * SLOT, "too slow to tell: the queue has nearly drained")
        self.assertLessEqual(retry_after, due + 0.05,
                             "next token %.3f s away, expected %.3f s: the interrupted "
                             "waiter's slot did not go back" % (retry_after, due))

    def assert_server_did_not_crash(self):
        text = support.server_log_text()
        if text is None:
            self.skipTest("HR_SERVER_LOG not set; server log not checked")
        self.assertNotIn("terminated by signal", text)
        self.assertNotIn("PANIC", text)

    def test_statement_timeout_ends_wait_behind_queue(self):
        """F09: statement_timeout 1s ends a wait behind 20 waiters with 57014 at ~1 s."""
        key = fresh_key("f09-st")
        exhausted, threads, granted_before = self.queue_of_twenty(key)
        timed = connect()
        self.addCleanup(timed.close)
        with timed.cursor() as cur:
            cur.execute("SET statement_timeout = '1s'")
        code, elapsed = timed_error(timed, ACQUIRE, (30, key, 1))

        self.assertEqual(code, QUERY_CANCELED)
        self.assertTrue(0.9 <= elapsed <= 3.0, "statement_timeout hit after %.3f s" % elapsed)
        self.assert_queue_accounts(key, granted_before, len(threads))
        self.assert_next_slot_not_delayed(key, exhausted, len(threads))
        self.join_all(threads)
        self.assertEqual([t.result for t in threads], [True] * len(threads),
                         [t.outcome() for t in threads])
        self.assertEqual(status(self.conn, key)["waiting"], 0)
        # The session is fine afterwards.
        with timed.cursor() as cur:
            cur.execute("RESET statement_timeout")
        self.assertEqual(scalar(timed, "SELECT 1"), 1)

    def test_cancel_backend_ends_wait_behind_queue(self):
        """F09: pg_cancel_backend of a queued waiter yields 57014 within 0.5 s."""
        key = fresh_key("f09-cancel")
        exhausted, threads, granted_before = self.queue_of_twenty(key)
        (victim,) = self.waiters(1, key)
        victim.start()
        wait_until_sleeping(self.conn, [victim])
        time.sleep(0.5)
        self.assertFalse(victim.done(), victim.outcome())
        cancelled = time.monotonic()
        self.assertTrue(scalar(self.conn, "SELECT pg_cancel_backend(%s)", (victim.pid,)))
        victim.join(5.0)

        self.assertEqual(victim.pgcode, QUERY_CANCELED, victim.outcome())
        self.assertLess(victim.ended - cancelled, 0.5,
                        "the cancel took %.3f s to end the wait" % (victim.ended - cancelled))
        self.assert_queue_accounts(key, granted_before, len(threads))
        self.assert_next_slot_not_delayed(key, exhausted, len(threads))
        self.join_all(threads)
        self.assertEqual([t.result for t in threads], [True] * len(threads),
                         [t.outcome() for t in threads])
        self.assertEqual(status(self.conn, key)["waiting"], 0)

    def start_two_waiters(self, key):
        """Exhaust key, then queue 10 tokens (due at 1.0 s) and 1 token (due at 1.1 s)."""
        first, second = self.waiters(2, key)
        first.args = (30, key, 10)
        exhausted = self.exhaust(key)
        first.start()
        wait_until_sleeping(self.conn, [first])
        second.start()
        wait_until_sleeping(self.conn, [second])
        self.assertEqual(status(self.conn, key)["waiting"], 2)
        return exhausted, first, second

    def cancel_at(self, waiter, when):
        time.sleep(max(0.0, when - time.monotonic()))
        self.assertTrue(scalar(self.conn, "SELECT pg_cancel_backend(%s)", (waiter.pid,)))
        waiter.join(5.0)
        self.assertEqual(waiter.pgcode, QUERY_CANCELED, waiter.outcome())

    def test_cancelled_tail_waiter_gives_its_slot_back(self):
        """F09: the last waiter's cancelled slot goes back; the waiter ahead is not delayed."""
        key = fresh_key("f09-tail")
        exhausted, first, second = self.start_two_waiters(key)

        # At 0.4 s the level is 4 - 11 = -7; the tail's token back makes it -6, so a
        # newcomer's first token is due at 1.1 s instead of 1.2 s.
        self.cancel_at(second, exhausted + 0.4)
        checked = time.monotonic()
        after = status(self.conn, key)
        self.assertEqual(after["waiting"], 1)
        self.assertLess(checked - exhausted, 0.9, "setup too slow to tell")
        due = exhausted + 11 * SLOT - checked
        self.assertLessEqual(after["retry_after"], due + 0.02,
                             "the tail's token did not come back: %r" % after)

        first.join(5.0)
        self.assertIs(first.result, True, first.outcome())
        self.assertLessEqual(first.ended, exhausted + 10 * SLOT + 0.25,
                             "the waiter ahead returned %.3f s after its slot"
                             % (first.ended - exhausted - 10 * SLOT))
        self.assertEqual(status(self.conn, key)["waiting"], 0)

    def test_cancelled_middle_waiter_slot_goes_to_the_next(self):
        """F09: a waiter cancelled mid-queue hands its slot on; everyone behind moves up one.

        The key refills 2 tokens/s, so single-token slots are 0.5 s apart:
        after exhaustion, four waiters are due at 0.5, 1.0, 1.5 and 2.0 s.  The
        second is cancelled at 0.7 s.  The third then gets the second's slot at
        1.0 s and the fourth 1.5 s, never earlier; the first keeps 0.5 s.
        """
        key = fresh_key("f09-middle")
        slot = 0.5
        scalar(self.conn, "SELECT hacienda_configure(%s, %s, %s)", (key, CAPACITY, 1 / slot))
        self.addCleanup(scalar, self.conn, "SELECT hacienda_unconfigure(%s)", (key,))
        threads = self.waiters(4, key)
        exhausted = self.exhaust(key)
        for thread in threads:
            thread.start()
            wait_until_sleeping(self.conn, [thread])
        self.assertLess(time.monotonic() - exhausted, 0.4, "setup too slow to tell")

        self.cancel_at(threads[1], exhausted + 0.7)
        for thread in (threads[0], threads[2], threads[3]):
            thread.join(5.0)
            self.assertIs(thread.result, True, thread.outcome())

        for thread, due in ((threads[0], 1), (threads[2], 2), (threads[3], 3)):
            late = thread.ended - (exhausted + due * slot)
            self.assertGreaterEqual(late, -0.02, "a waiter was granted before its slot")
            self.assertLess(late, 0.3, "a waiter was %.3f s past its slot %.1f s: the "
                            "cancelled slot did not move the queue up" % (late, due * slot))
        self.assertEqual(status(self.conn, key)["waiting"], 0)
        self.assertFalse(scalar(self.conn, TRY_ACQUIRE, (key, 1)),
                         "the queue left more than the refill paid for")

    def test_terminated_waiter_gives_reservation_back(self):
        """pg_terminate_backend of a waiter returns its tokens; the server stays up."""
        key = fresh_key("terminate")
        started_at = scalar(self.conn, "SELECT pg_postmaster_start_time()")
        (waiter,) = self.waiters(1, key, tokens=15)  # due 1.5 s after exhaustion
        exhausted = self.exhaust(key)
        waiter.start()
        wait_until_sleeping(self.conn, [waiter])
        self.assertEqual(status(self.conn, key)["waiting"], 1)

        # At 0.4 s the level is 4 - 15 = -11; giving 15 back makes it 4.
        time.sleep(max(0.0, exhausted + 0.4 - time.monotonic()))
        terminated = time.monotonic()
        self.assertTrue(scalar(self.conn, "SELECT pg_terminate_backend(%s)", (waiter.pid,)))
        waiter.join(5.0)
        self.assertIsInstance(waiter.error, psycopg2.OperationalError, waiter.outcome())
        self.assertLess(waiter.ended - terminated, 0.5)

        def gone():
            return scalar(self.conn, "SELECT count(*) FROM pg_stat_activity WHERE pid = %s",
                          (waiter.pid,)) == 0
        self.assertTrue(poll_until(gone, 2.0), "terminated backend still there")
        checked = time.monotonic()
        after = status(self.conn, key)
        self.assertEqual(after["waiting"], 0)
        self.assertLess(checked - exhausted, 1.4, "setup too slow to tell")
        self.assertGreaterEqual(after["tokens"], refilled(exhausted, checked) - 0.05,
                                "the terminated waiter's 15 tokens did not come back")

        other = connect()
        try:
            self.assertEqual(scalar(other, "SELECT pg_postmaster_start_time()"), started_at)
            self.assertTrue(scalar(other, TRY_ACQUIRE, (key, 1)))
        finally:
            other.close()
        self.assert_server_did_not_crash()

    def test_killed_client_is_noticed_while_waiting(self):
        """A client killed with SIGKILL mid-wait: its backend exits soon, its tokens return."""
        key = fresh_key("killed")
        exhausted = self.exhaust(key)
        # The client's 20 tokens are due 2 s after exhaustion; it is noticed well before.
        client = subprocess.Popen([sys.executable, "-c", WAITING_CLIENT, key, str(CAPACITY)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        watchdog = threading.Timer(10.0, client.kill)
        watchdog.start()
        try:
            line = client.stdout.readline().strip()
            self.assertTrue(line.isdigit(), "client said %r, stderr %r"
                            % (line, client.stderr.read() if client.poll() is not None else ""))
            pid = int(line)
            asleep = poll_until(lambda: sleeping_pids(self.conn, [pid]), 5.0)
            self.assertEqual(asleep, {pid}, "the client's backend never started waiting")
            self.assertEqual(status(self.conn, key)["waiting"], 1)
            os.kill(client.pid, signal.SIGKILL)
            client.wait(5.0)
            killed = time.monotonic()
        finally:
            watchdog.cancel()
            watchdog.join()
            if client.poll() is None:
                client.kill()
            client.wait()
            client.stdout.close()
            client.stderr.close()
        self.assertLess(killed - exhausted, 0.4, "setup too slow to tell")

        def backend_count():
            return scalar(self.conn, "SELECT count(*) FROM pg_stat_activity WHERE pid = %s",
                          (pid,))

        # Noticed by the socket watch, not by the slot coming due at 2 s.
        noticed = poll_until(lambda: backend_count() == 0
                             and status(self.conn, key)["waiting"] == 0, 1.5)
        self.assertTrue(noticed, "1.5 s after the kill: backend %d still listed %d time(s), "
                        "status %r" % (pid, backend_count(), status(self.conn, key)))
        checked = time.monotonic()
        after = status(self.conn, key)
        self.assertGreaterEqual(after["tokens"], refilled(exhausted, checked) - 0.05,
                                "the killed client's 20 tokens did not come back: %r" % after)
        self.assertEqual(after["waiting"], 0)
        self.assert_server_did_not_crash()

    def test_session_survives_every_error(self):
        """F07: after every error the extension raises, the same session answers at once."""
        key = fresh_key("f07")
        pid = self.conn.get_backend_pid()
        long_key = "k" * 256
        bad_calls = [
            ("SELECT hacienda_try_acquire(NULL)", None, NULL_VALUE_NOT_ALLOWED),
            ("SELECT hacienda_try_acquire(%s, NULL)", (key,), NULL_VALUE_NOT_ALLOWED),
            ("SELECT hacienda_acquire(NULL, %s)", (key,), NULL_VALUE_NOT_ALLOWED),
            ("SELECT hacienda_acquire(1, NULL)", None, NULL_VALUE_NOT_ALLOWED),
            ("SELECT hacienda_acquire(1, %s, NULL)", (key,), NULL_VALUE_NOT_ALLOWED),
            ("SELECT * FROM hacienda_status(NULL)", None, NULL_VALUE_NOT_ALLOWED),
            ("SELECT hacienda_reset(NULL)", None, NULL_VALUE_NOT_ALLOWED),
            ("SELECT hacienda_acquire('NaN', %s)", (key,), INVALID_PARAMETER_VALUE),
            ("SELECT hacienda_acquire('Infinity', %s)", (key,), INVALID_PARAMETER_VALUE),
            ("SELECT hacienda_acquire(-1, %s)", (key,), INVALID_PARAMETER_VALUE),
            (TRY_ACQUIRE, (key, 0), INVALID_PARAMETER_VALUE),
            (TRY_ACQUIRE, (key, CAPACITY + 1), INVALID_PARAMETER_VALUE),
            (ACQUIRE, (1, key, 0), INVALID_PARAMETER_VALUE),
            (ACQUIRE, (1, key, CAPACITY + 1), INVALID_PARAMETER_VALUE),
            (TRY_ACQUIRE, ("", 1), INVALID_PARAMETER_VALUE),
            (ACQUIRE, (1, "", 1), INVALID_PARAMETER_VALUE),
            ("SELECT * FROM hacienda_status('')", None, INVALID_PARAMETER_VALUE),
            (TRY_ACQUIRE, (long_key, 1), INVALID_PARAMETER_VALUE),
            (ACQUIRE, (1, long_key, 1), INVALID_PARAMETER_VALUE),
            ("SELECT * FROM hacienda_status(%s)", (long_key,), INVALID_PARAMETER_VALUE),
        ]
        for sql, args, expected in bad_calls:
            with self.subTest(sql=sql, args=args):
                code, _ = timed_error(self.conn, sql, args)
                self.assertEqual(code, expected)

        exhausted = self.exhaust(key)
        code, _ = timed_error(self.conn, ACQUIRE, (0.1, key, CAPACITY))
        self.assertEqual(code, RATE_LIMIT_TIMEOUT)

        with self.conn.cursor() as cur:
            cur.execute("SET statement_timeout = '300ms'")
        code, elapsed = timed_error(self.conn, ACQUIRE, (30, key, CAPACITY))
        with self.conn.cursor() as cur:
            cur.execute("RESET statement_timeout")
        self.assertEqual(code, QUERY_CANCELED, "statement_timeout during acquire")
        self.assertLess(elapsed, 1.5)

        # Cancel this very session from another one while it waits.
        canceller_conn = connect()
        self.addCleanup(canceller_conn.close)
        cancel_sent = []

        def cancel_when_asleep():
            if poll_until(lambda: sleeping_pids(canceller_conn, [pid]), 5.0):
                time.sleep(0.1)
                cancel_sent.append(scalar(canceller_conn, "SELECT pg_cancel_backend(%s)",
                                          (pid,)))

        canceller = threading.Thread(target=cancel_when_asleep, daemon=True)
        canceller.start()
        try:
            code, elapsed = timed_error(self.conn, ACQUIRE, (30, key, CAPACITY))
        finally:
            canceller.join(10.0)
        self.assertEqual(cancel_sent, [True], "the waiting session was never cancelled")
        self.assertEqual(code, QUERY_CANCELED, "cancel during acquire")
        self.assertLess(elapsed, 5.0)

        # The same session answers at once.
        ok_key = fresh_key("ok")
        started = time.monotonic()
        self.assertIs(scalar(self.conn, TRY_ACQUIRE, (ok_key, 1)), True)
        self.assertLess(time.monotonic() - started, 1.0)
        started = time.monotonic()
        ok = status(self.conn, ok_key)
        self.assertLess(time.monotonic() - started, 1.0)
        self.assertEqual((ok["total_requests"], ok["waiting"]), (1, 0))

        # Both interrupted waits gave their 20 tokens back.
        checked = time.monotonic()
        after = status(self.conn, key)
        self.assertEqual(after["waiting"], 0)
        self.assertGreaterEqual(after["tokens"], refilled(exhausted, checked) - 0.05,
                                "interrupted waits kept their reservations: %r" % after)

        # No session is stuck on a lightweight lock.
        samples = []
        for _ in range(3):
            with self.conn.cursor() as cur:
                cur.execute("SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'LWLock'")
                samples.append({row[0] for row in cur.fetchall()})
            time.sleep(0.15)
        self.assertEqual(set.intersection(*samples), set(),
                         "sessions stuck on an LWLock: %r" % samples)
        self.assert_server_did_not_crash()


if __name__ == "__main__":
    unittest.main()
