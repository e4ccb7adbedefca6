"""Waiting: many sessions in hacienda_acquire() on one exhausted key.

The key gets a capacity of 1 and the slowest rate, 0.001 tokens per second,
and is drained.  The waiters then join one at a time, each once the one before
it is asleep, so the k-th to join holds the k-th slot; none comes due for
over 15 minutes.  With all of them asleep, the CPU their backends use is read
over a quiet spell.  Then hacienda_configure() raises the rate, which wakes
the queue to follow the new schedule: the k-th slot falls (n - k + 1) / rate
seconds before the moment a new caller could get a token, which
hacienda_status() gives as retry_after.  Each waiter reads the clock on the
server as soon as hacienda_acquire() returns; its lateness is that reading
less its slot.  The CPU of the backends is read again over the serving.

CPU time comes from /proc/<pid>/schedstat (nanoseconds on a CPU), or, where
the kernel keeps no schedstat, from user and system time in /proc/<pid>/stat.
"""

import os
import threading
import time

from common import connect, median, percentile, scalar

KEY = "waiters"
WARMUP_KEY = "waiters-warm-up"  # under the server's huge default limits
SLOW_RATE = 0.001
TIMEOUT = 2000000.0  # seconds: past the last slot, even under SLOW_RATE
JOIN_TIMEOUT = 10.0  # seconds for one waiter to fall asleep

GRANT = ("SELECT extract(epoch FROM clock_timestamp())::float8 "
         "FROM (SELECT hacienda_acquire(%s, %s) AS granted OFFSET 0) AS wait")


def cpu_seconds(pid):
    """CPU time used so far by process pid, in seconds."""
    try:
        with open("/proc/%d/schedstat" % pid) as schedstat:
            return int(schedstat.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        with open("/proc/%d/stat" % pid) as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_total(pids):
    """CPU seconds used so far by all of pids together."""
    return sum(cpu_seconds(pid) for pid in pids)


def switches_total(pids):
    """Context switches so far of all of pids together, voluntary or not."""
    total = 0
    for pid in pids:
        with open("/proc/%d/status" % pid) as status:
            for line in status:
                if "ctxt_switches:" in line:
                    total += int(line.split()[1])
    return total


def slope(xs, ys):
    """The least-squares slope of ys against xs."""
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / spread


class Waiter(threading.Thread):
    """One session that waits for one token and records when it got it.

    Like a long-lived application connection, its backend has run the
    statement once before, on a key with room, so the first-time costs of a
    new backend (loading the time zone, touching fresh memory) are not counted.
    """

    def __init__(self):
        super().__init__(daemon=True)
        self.conn = connect()
        self.pid = self.conn.get_backend_pid()
        scalar(self.conn, GRANT, (TIMEOUT, WARMUP_KEY))
        self.granted_at = None
        self.error = None

    def run(self):
        """Wait for the token; record the server's clock once it is granted."""
        try:
            self.granted_at = scalar(self.conn, GRANT, (TIMEOUT, KEY))
        except Exception as exc:  # reported with the results
            self.error = repr(exc)


def join_queue(conn, waiters):
    """Start the waiters one by one, each once the previous one holds its slot."""
    for count, waiter in enumerate(waiters, 1):
        waiter.start()
        deadline = time.monotonic() + JOIN_TIMEOUT
        while scalar(conn, "SELECT waiting FROM hacienda_status(%s)", (KEY,)) < count:
            if time.monotonic() > deadline:
                raise RuntimeError("waiter %d did not start waiting" % count)
            time.sleep(0.001)


def measure(settings, log):
    """CPU shares while asleep and while served, and the lateness of each grant."""
    conn = connect()
    n, rate = settings.waiters, settings.waiter_rate
    scalar(conn, "SELECT hacienda_configure(%s, 1, %s)", (KEY, SLOW_RATE))
    scalar(conn, "SELECT hacienda_try_acquire(%s)", (KEY,))

    log("waiting: %d waiters join the queue" % n)
    waiters = [Waiter() for _ in range(n)]
    pids = [w.pid for w in waiters]
    join_queue(conn, waiters)

    log("waiting: %d waiters asleep for %.0f s" % (n, settings.idle_seconds))
    start, cpu, switches = time.monotonic(), cpu_total(pids), switches_total(pids)
    time.sleep(settings.idle_seconds)
    asleep_share = (cpu_total(pids) - cpu) / (time.monotonic() - start)
    asleep_switches = switches_total(pids) - switches

    log("waiting: served at %.0f a second" % rate)
    start, cpu, switches = time.monotonic(), cpu_total(pids), switches_total(pids)
    scalar(conn, "SELECT hacienda_configure(%s, 1, %s)", (KEY, rate))
    with conn.cursor() as cur:
        cur.execute("SELECT extract(epoch FROM clock_timestamp())::float8, retry_after "
                    "FROM hacienda_status(%s)", (KEY,))
        read_at, retry_after = cur.fetchone()
    for waiter in waiters:
        waiter.join()
    served_cpu = cpu_total(pids) - cpu
    served_share = served_cpu / (time.monotonic() - start)
    served_switches = switches_total(pids) - switches

    errors = [w.error for w in waiters if w.error]
    if errors:
        raise RuntimeError("waiters failed: %s" % "; ".join(errors[:3]))
    slots = [read_at + retry_after - (n - k + 1) / rate for k in range(1, n + 1)]
    lateness_ms = [(w.granted_at - slot) * 1000 for w, slot in zip(waiters, slots)]
    for waiter in waiters:
        waiter.conn.close()
    scalar(conn, "SELECT hacienda_unconfigure(%s)", (KEY,))
    conn.close()
    return {
        "waiters": n,
        "rate": rate,
        "idle_seconds": settings.idle_seconds,
        "asleep_cpu_share": asleep_share,
        "asleep_switches": asleep_switches,
        "served_cpu_share": served_share,
        "served_cpu_per_waiter": served_cpu / n,
        "served_switches_per_waiter": served_switches / n,
        # How lateness grows with the time a waiter slept after the change of rate.
        "lateness_ms_per_s": slope([slot - read_at for slot in slots], lateness_ms),
        "lateness_ms": {
            "p50": median(lateness_ms),
            "p99": percentile(lateness_ms, 0.99),
            "max": max(lateness_ms),
            "min": min(lateness_ms),
        },
    }
