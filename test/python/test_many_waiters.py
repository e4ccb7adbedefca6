"""200 sessions waiting in hacienda_acquire() on one exhausted key.

The key gets limits of its own.  While the queue forms it refills one token
per 100 s, so no slot comes due however long it takes to start the sessions
one by one, each only once the previous one sleeps; then hacienda_configure()
raises the rate to 25 tokens per second, which wakes the queue to follow the
new schedule: one waiter every 40 ms, 8 s for all of them.

Times are time.monotonic(), the CLOCK_MONOTONIC the buckets use, so whatever
the server did for a statement happened between its send and its receive.
The order in which waiters were served is read on the server: each waiter's
statement draws a number from a sequence once hacienda_acquire() has returned.

The server must accept 200 sessions besides the test's own: scripts/test
starts it with max_connections = 300.

Run with /usr/bin/python3 against the server scripts/test starts.
"""

import os
import sys
import threading
import time
import unittest
import uuid

import support
from support import StatementThread, connect, scalar, status, stop_statement_threads

WAITERS = 200
CAPACITY = 20
SLOW_RATE = 0.01  # tokens per second while the queue forms: the first slot is 100 s away
RATE = 25.0       # tokens per second once it is served
# Enough for the last waiter even under the slow rate, so every timeout suffices.
TIMEOUT = 3 * WAITERS / SLOW_RATE

# How late a waiter may return after its slot: generous for a loaded machine.
LATENESS = 0.5
# Float rounding of the clock readings; a waiter is never early on the server.
EARLY_SLACK = 0.001
# The waiters' backends together may use at most this share of one core.
CPU_SHARE = 0.05

CONFIGURE = "SELECT hacienda_configure(%s, %s, %s)"
UNCONFIGURE = "SELECT hacienda_unconfigure(%s)"
TRY_ACQUIRE = "SELECT hacienda_try_acquire(%s)"
# The sequence number is drawn only after hacienda_acquire() has returned true.
NUMBERED_ACQUIRE = ("SELECT CASE WHEN granted THEN nextval(%s) END "
                    "FROM (SELECT hacienda_acquire(%s, %s, 1) AS granted OFFSET 0) AS wait")


def setUpModule():
    support.ensure_extension()


def cpu_times(pids):
    """CPU time used so far by each process in pids, in seconds, two ways.

    Returns {pid: (ticks, ran)}: ticks is user plus system time from
    /proc/<pid>/stat, counted in clock ticks; ran is the exact time on a CPU
    from /proc/<pid>/schedstat, or None where the kernel does not keep it.
    """
    ticks_per_second = os.sysconf("SC_CLK_TCK")
    times = {}
    for pid in pids:
        with open("/proc/%d/stat" % pid) as stat:
            # The command name is in parentheses and may hold spaces: skip past it.
            fields = stat.read().rsplit(")", 1)[1].split()
        ticks = (int(fields[11]) + int(fields[12])) / ticks_per_second
        try:
            with open("/proc/%d/schedstat" % pid) as schedstat:
                ran = int(schedstat.read().split()[0]) / 1e9
        except OSError:
            ran = None
        times[pid] = (ticks, ran)
    return times


def cpu_share(before, after, seconds):
    """The share of one core the processes used between two cpu_times() readings.

    Returns (by ticks, exactly); the second is None without schedstat.
    """
    ticks = sum(after[pid][0] - before[pid][0] for pid in before) / seconds
    if any(t[1] is None for t in list(before.values()) + list(after.values())):
        return ticks, None
    return ticks, sum(after[pid][1] - before[pid][1] for pid in before) / seconds


class TryLoop(threading.Thread):
    """try_acquire on one key as fast as it can, until its first grant or deadline."""

    def __init__(self, key, deadline):
        super().__init__(daemon=True)
        self.key = key
        self.deadline = deadline
        self.conn = connect()
        self.attempts = []  # (send, recv, granted)
        self.error = None

    def run(self):
        try:
            with self.conn.cursor() as cur:
                while time.monotonic() < self.deadline:
                    send = time.monotonic()
                    cur.execute(TRY_ACQUIRE, (self.key,))
                    granted = cur.fetchone()[0]
                    self.attempts.append((send, time.monotonic(), granted))
                    if granted:
                        return
        except Exception as exc:  # recorded for the test to assert on
            self.error = exc


class ManyWaitersTest(unittest.TestCase):

    def setUp(self):
        self.conn = connect()
        self.addCleanup(self.conn.close)

    def configured_key(self):
        """A fresh key with the slow rate, returned to the defaults at cleanup."""
        key = support.fresh_key("many-waiters")
        scalar(self.conn, CONFIGURE, (key, CAPACITY, SLOW_RATE))
        self.addCleanup(scalar, self.conn, UNCONFIGURE, (key,))
        return key

    def order_sequence(self):
        """A sequence of the test's own, dropped at cleanup."""
        name = "hr_served_%s" % uuid.uuid4().hex[:12]
        self.execute("CREATE SEQUENCE %s" % name)
        self.addCleanup(self.execute, "DROP SEQUENCE IF EXISTS %s" % name)
        return name

    def execute(self, sql):
        with self.conn.cursor() as cur:
            cur.execute(sql)

    def queue_in_order(self, threads):
        """Start the waiters one by one, each once the previous one sleeps."""
        for i, thread in enumerate(threads):
            thread.start()
            support.wait_until_sleeping(self.conn, [thread], timeout=10.0)
            self.assertFalse(thread.done(), "waiter %d returned while the queue formed: %s"
                             % (i + 1, thread.outcome()))

    def test_waiters_served_in_order_at_the_rate_without_cpu(self):
        """200 waiters: served in arrival order at 25/s, none times out, backends idle.

        Each waiter's return lies between its slot (k / rate after the rate
        change, less the few hundredths of a token the slow rate paid before)
        and half a second after it; the sequence numbers drawn after each
        grant follow the arrival order; a try_acquire loop on the key gets
        nothing until the last slot has passed and one more token has come;
        the 200 backends use under 5% of one core from the moment all of them
        sleep until the last one returns.
        """
        key = self.configured_key()
        sequence = self.order_sequence()
        threads = []
        self.addCleanup(stop_statement_threads, threads)
        for _ in range(WAITERS):
            threads.append(StatementThread(NUMBERED_ACQUIRE, (sequence, TIMEOUT, key)))
        pids = [t.pid for t in threads]

        exhaust_send, exhaust_recv, (took,) = support.timed_row(
            self.conn, "SELECT hacienda_try_acquire(%s, %s)", (key, CAPACITY))
        self.assertTrue(took, "could not take the %d tokens of a fresh key" % CAPACITY)
        queue_started = time.monotonic()
        self.queue_in_order(threads)
        queue_formed = time.monotonic()

        queued = status(self.conn, key)
        self.assertEqual((queued["waiting"], queued["total_requests"]), (WAITERS, 1),
                         "the queue before the rate change")
        self.assertEqual(support.sleeping_pids(self.conn, pids), set(pids))

        # The waiters sleep: measure them for a second before anything moves.
        cpu_start, clock_start = cpu_times(pids), time.monotonic()
        time.sleep(1.0)
        cpu_idle, clock_idle = cpu_times(pids), time.monotonic()

        # Then serve them at the full rate, with a try_acquire loop competing.
        rejected_before = queued["rejected_requests"]
        last_slot = WAITERS / RATE
        loop = TryLoop(key, time.monotonic() + last_slot + 30.0)
        self.addCleanup(loop.conn.close)
        loop.start()
        change_send, change_recv, _ = support.timed_row(
            self.conn, CONFIGURE, (key, CAPACITY, RATE))
        deadline = time.monotonic() + last_slot + 30.0
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        cpu_end, clock_end = cpu_times(pids), time.monotonic()
        loop.join(max(0.0, loop.deadline - time.monotonic()) + 5.0)

        # Every waiter was granted: none timed out.
        outcomes = [t.outcome() for t in threads]
        failed = [o for t, o in zip(threads, outcomes) if t.result is None]
        self.assertEqual(failed, [], "waiters not granted (%d of %d)" % (len(failed), WAITERS))

        # Served in arrival order, as the server drew the numbers.
        served = [t.result for t in threads]
        inversions = [(k + 1, served[k], served[k + 1]) for k in range(WAITERS - 1)
                      if served[k] > served[k + 1]]
        self.assertEqual(inversions, [], "(arrival, number, next arrival's number) out of order")

        # Waiter k is due when the refill has paid k tokens at the new rate,
        # less what the slow rate paid between exhaustion and the change.
        paid_before = SLOW_RATE * (change_recv - exhaust_send)
        self.assertLess(paid_before, 1.0, "the queue took too long to form for this test")
        early, late, lateness = [], [], []
        for k, thread in enumerate(threads, start=1):
            earliest = change_send + (k - paid_before) / RATE
            latest = change_recv + k / RATE
            if thread.ended < earliest - EARLY_SLACK:
                early.append((k, round(thread.ended - earliest, 4)))
            lateness.append(thread.ended - latest)
            if thread.ended > latest + LATENESS:
                late.append((k, round(thread.ended - latest, 3)))
        self.assertEqual(early, [], "(waiter, seconds) returned before its slot")
        self.assertEqual(late, [], "(waiter, seconds) returned later than %.1f s after its slot"
                         % LATENESS)

        # The try_acquire loop got nothing while the queue lasted.
        self.assertIsNone(loop.error, "the try_acquire loop failed: %r" % loop.error)
        attempts = loop.attempts
        queue_gone = change_send + (WAITERS + 1 - paid_before) / RATE
        while_queued = [a for a in attempts if a[1] < queue_gone]
        self.assertGreaterEqual(len(while_queued), 10, "too few attempts while the queue lasted")
        jumped = [round(a[1] - queue_gone, 4) for a in while_queued if a[2]]
        self.assertEqual(jumped, [], "try_acquire granted this long before the queue was served")
        self.assertTrue(attempts and attempts[-1][2],
                        "try_acquire got no token after the queue was served")

        # The counters saw exactly the waiters, the loop's grant and its refusals.
        after = status(self.conn, key)
        refused = sum(1 for a in attempts if not a[2])
        self.assertEqual((after["waiting"], after["total_requests"], after["rejected_requests"]),
                         (0, 1 + WAITERS + 1, rejected_before + refused))

        # Asleep on the latch, the backends use next to no CPU.
        asleep = cpu_share(cpu_start, cpu_idle, clock_idle - clock_start)
        whole = cpu_share(cpu_start, cpu_end, clock_end - clock_start)
        shown = "%.2f%% of one core by clock ticks, %s exactly" % (
            100 * whole[0], "unknown" if whole[1] is None else "%.3f%%" % (100 * whole[1]))
        for what, share in (("by clock ticks", whole[0]), ("exactly", whole[1]),
                            ("asleep, by clock ticks", asleep[0]), ("asleep, exactly", asleep[1])):
            if share is not None:
                self.assertLess(share, CPU_SHARE,
                                "%d waiting backends used %.2f%% of one core %s; over the "
                                "%.1f s from all asleep to all served: %s"
                                % (WAITERS, 100 * share, what, clock_end - clock_start, shown))
        sys.stderr.write("\n  %d sessions queued in %.1f s, served over %.2f s (slots span "
                         "%.2f s), each at most %+.0f ms from its slot's upper bound; %d "
                         "try_acquire calls refused; waiters' CPU over %.1f s: %s\n"
                         % (WAITERS, queue_formed - queue_started,
                            threads[-1].ended - change_recv, last_slot, 1000 * max(lateness),
                            refused, clock_end - clock_start, shown))


if __name__ == "__main__":
    unittest.main()
