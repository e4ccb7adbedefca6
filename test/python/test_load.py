"""Reliability under load: 64 clients for 60 s on one hot key and on 10,000 keys.

One phase runs everything at once:

  - 24 psycopg2 sessions on a hot key with limits of its own (capacity 20,
    10 tokens per second);
  - 24 psycopg2 sessions on 10,000 keys picked at random, under the defaults;
  - pgbench with 16 clients on 101 keys of its own, one script file per mix.

Every client mixes hacienda_try_acquire(), hacienda_acquire() with short
timeouts, hacienda_status() and the hacienda_buckets view, in autocommit and
in READ COMMITTED, REPEATABLE READ and SERIALIZABLE transactions, some of them
rolled back.  Afterwards:

  - nothing failed but hacienda_acquire() with RL001: no 40001, no 40P01;
  - the counters of the hot key and of each of the 10,000 keys equal the
    grants and refusals its clients saw, and every status row they read along
    the way was consistent;
  - the hot key granted at most capacity + rate x T in every window its
    clients' clock readings vouch for, and, from the start up to each
    refusal, at least capacity + rate x T - 1 (see hot_key_shortfall);
  - pgbench saw no failure, its keys' counters add up to the calls its
    transactions made, and none granted more than capacity + rate x T.

Times are time.monotonic(), the CLOCK_MONOTONIC the buckets use, so whatever
the server did for a statement happened between its send and its receive.

The 10,000 keys must not push other buckets out, nor be pushed out
themselves: scripts/test starts the server with
hacienda_ratelimit.max_buckets = 20000.  HR_LOAD_SECONDS shortens the 60 s
phase, for development only.

Run with /usr/bin/python3 against the server scripts/test starts.
"""

import bisect
import collections
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

import psycopg2
import psycopg2.extensions

import support
from support import RATE_LIMIT_TIMEOUT, connect, scalar

SECONDS = int(os.environ.get("HR_LOAD_SECONDS", "60"))
HOT_SESSIONS = 24
SPREAD_SESSIONS = 24
SPREAD_KEYS = 10000
PGBENCH_CLIENTS = 16
PGBENCH_KEYS = 100  # besides pgbench's own hot key

HOT_CAPACITY = 20
HOT_RATE = 10.0
ACQUIRE_TIMEOUTS = (0.0, 0.05, 0.2, 0.5)
WARM_KEYS = 100  # of the 10,000, these get a fifth of the calls, so they run dry too
ISOLATION = (None, "READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE")  # None: autocommit

EPS = 1e-6  # float rounding in the bounds, far below one token

CONFIGURE = "SELECT hacienda_configure(%s, %s, %s)"
UNCONFIGURE = "SELECT hacienda_unconfigure(%s)"
SQL = {
    "try": "SELECT hacienda_try_acquire(%s, %s)",
    "acquire": "SELECT hacienda_acquire(%s, %s, %s)",
    "status": "SELECT * FROM hacienda_status(%s)",
    "row": "SELECT * FROM hacienda_buckets WHERE key = %s",
    "view": ("SELECT count(*), count(*) FILTER (WHERE tokens < 0 OR tokens > capacity "
             "OR utilization < 0 OR utilization > 100 OR retry_after < 0 OR waiting < 0 "
             "OR total_requests < 0 OR rejected_requests < 0) FROM hacienda_buckets"),
}

# pgbench's mixes: (file name, weight, calls of try_acquire or acquire per
# transaction, script).  {hot} becomes pgbench's hot key and {prefix} || :n
# one of its other keys.  A DO block turns RL001 into nothing, since pgbench
# gives up a client on any error.
PGBENCH_SCRIPTS = [
    ("autocommit.sql", 40, 2, """
\\set n random(1, {keys})
SELECT hacienda_try_acquire('{prefix}' || :n, 1);
SELECT hacienda_try_acquire('{hot}');
"""),
    ("read_committed.sql", 25, 2, """
\\set n random(1, {keys})
BEGIN ISOLATION LEVEL READ COMMITTED;
SELECT * FROM hacienda_status('{hot}');
DO $$ BEGIN PERFORM hacienda_acquire(0.05, '{hot}');
EXCEPTION WHEN SQLSTATE 'RL001' THEN NULL; END $$;
SELECT hacienda_try_acquire('{prefix}' || :n, 2);
COMMIT;
"""),
    ("repeatable_read.sql", 20, 2, """
\\set n random(1, {keys})
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT hacienda_try_acquire('{hot}');
DO $$ BEGIN PERFORM hacienda_acquire(0.2, '{prefix}' || :n, 3);
EXCEPTION WHEN SQLSTATE 'RL001' THEN NULL; END $$;
SELECT * FROM hacienda_status('{prefix}' || :n);
ROLLBACK;
"""),
    ("serializable.sql", 14, 1, """
BEGIN ISOLATION LEVEL SERIALIZABLE;
DO $$ BEGIN PERFORM hacienda_acquire(0.5, '{hot}');
EXCEPTION WHEN SQLSTATE 'RL001' THEN NULL; END $$;
SELECT * FROM hacienda_status('{hot}');
COMMIT;
"""),
    ("buckets_view.sql", 1, 1, """
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT count(*), sum(waiting) FROM hacienda_buckets;
SELECT hacienda_try_acquire('{hot}');
COMMIT;
"""),
]


def setUpModule():
    support.ensure_extension()


def pgbench_binary():
    """Debian's pgbench for PostgreSQL 15, or another named by HR_PG_BIN or on PATH."""
    bindir = os.environ.get("HR_PG_BIN", "/usr/lib/postgresql/15/bin")
    path = os.path.join(bindir, "pgbench")
    if os.access(path, os.X_OK):
        return path
    return shutil.which("pgbench")


def window_excess(grants, capacity, rate):
    """The window holding the most grants beyond capacity + rate x its length.

    grants: (send, recv) of each granted call.  A grant certainly happened
    inside [a, b] on the server if a <= send and recv <= b; the tightest such
    windows run from one grant's send to another's receive.  Returns
    (excess, grants inside, allowed, length) for the worst of them; an
    excess above zero means the bucket granted more than it may.
    """
    worst = (-math.inf, 0, 0, 0.0)
    recvs = []  # sorted receives of the grants sent at or after a
    for a, recv in sorted(grants, reverse=True):
        bisect.insort(recvs, recv)
        for inside, b in enumerate(recvs, start=1):
            allowed = capacity + math.floor(rate * (b - a) + EPS)
            if inside - allowed > worst[0]:
                worst = (inside - allowed, inside, allowed, b - a)
    return worst


def hot_key_shortfall(grants, refusals, capacity, rate):
    """How far the grants fall short of capacity + rate x T - 1 up to a refusal.

    grants: (send, recv) of each granted call; refusals: (send, recv) of each
    refused try_acquire of one token, so the level was below one token at the
    refusal's instant x.  Let L be the level and x_first the first refusal.
    If no two successive refusals are (capacity - 1) / rate or more apart, L
    never reaches the capacity again after x_first, so, with t0 the last
    instant the bucket was full (before x_first), everything refilled since
    was taken but less than one token:
        taken in (t0, x] > capacity - 1 + rate x (x - t0)
                         >= capacity - 1 + rate x (send - min refusal recv).
    Each token taken in (t0, x] belongs to a granted call sent by recv.

    The refusals are sorted by send; a prefix of them whose largest gap
    between sends plus longest round trip stays under (capacity - 1) / rate
    has a refusal instant in every stretch that long, up to its last send,
    so every refusal received before that send may serve as x.  A stall of
    the clients shortens the prefix, never makes the check wrong.

    Returns (worst shortfall, refusals checked); a shortfall above zero
    means the bucket granted fewer tokens than demand and its rate called for.
    """
    refusals = sorted(refusals)
    if not refusals:
        return -math.inf, 0
    reach = (capacity - 1) / rate
    gap = longest = 0.0
    dense_until = refusals[0][0]
    for i, (send, recv) in enumerate(refusals):
        longest = max(longest, recv - send)
        if i:
            gap = max(gap, send - refusals[i - 1][0])
        if gap + longest >= reach:
            break
        dense_until = send
    first = min(recv for _, recv in refusals)
    sends = sorted(send for send, _ in grants)
    worst, checked = -math.inf, 0
    for send, recv in refusals:
        if recv >= dense_until:
            continue
        checked += 1
        possible = bisect.bisect_right(sends, recv)
        needed = capacity + max(0, math.floor(rate * (send - first) - EPS))
        worst = max(worst, needed - possible)
    return worst, checked


class Session(threading.Thread):
    """One psycopg2 client: transactions of random calls until the deadline."""

    def __init__(self, index, keys, tokens, limits, barrier, seed):
        super().__init__(daemon=True)
        self.keys = keys
        self.tokens = tokens  # the request sizes to pick from
        self.hot = len(keys) == 1
        self.limits = limits  # key -> (capacity, rate, configured), or None: the defaults
        self.barrier = barrier
        self.rng = random.Random("%s-%d" % (seed, index))
        self.conn = connect()
        self.deadline = None  # set before the barrier opens
        self.calls = []  # (send, recv, granted) of try_acquire and acquire on the hot key
        self.hot_refusals = []  # (send, recv) of refused try_acquire on the hot key
        self.counts = collections.defaultdict(lambda: [0, 0])  # key -> [granted, refused]
        self.ops = collections.Counter()
        self.errors = []  # (SQLSTATE, message)
        self.anomalies = []  # inconsistent rows of hacienda_status or the view
        self.seen_total = 0  # the hot key's highest total_requests seen

    def pick(self):
        """One call: (kind, arguments, key it counts against)."""
        rng = self.rng
        key = rng.choice(self.keys[:WARM_KEYS] if rng.random() < 0.2 else self.keys)
        tokens = rng.choice(self.tokens)
        r = rng.random()
        if r < 0.5:
            return "try", (key, tokens), key
        if r < 0.75:
            return "acquire", (rng.choice(ACQUIRE_TIMEOUTS), key, tokens), key
        if r < 0.97:
            return "status", (key,), key
        if r < 0.995:
            return "row", (key,), key
        return "view", None, None

    def run(self):
        try:
            self.barrier.wait(60)
            with self.conn.cursor() as cur:
                while time.monotonic() < self.deadline:
                    self.transaction(cur)
        except Exception as exc:  # recorded for the test to assert on
            self.errors.append((getattr(exc, "pgcode", None), repr(exc)))

    def transaction(self, cur):
        isolation = self.rng.choice(ISOLATION)
        calls = [self.pick() for _ in range(1 if isolation is None else self.rng.randint(1, 3))]
        try:
            if isolation is not None:
                cur.execute("BEGIN ISOLATION LEVEL " + isolation)
            completed = all(self.call(cur, *call) for call in calls)
            if isolation is not None:
                cur.execute("COMMIT" if completed and self.rng.random() < 0.7 else "ROLLBACK")
        except psycopg2.Error as exc:
            self.errors.append((exc.pgcode, str(exc).strip()))
            status = self.conn.get_transaction_status()
            if status == psycopg2.extensions.TRANSACTION_STATUS_UNKNOWN:
                raise
            if status != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
                cur.execute("ROLLBACK")

    def call(self, cur, kind, args, key):
        """Run one call and record it; False if RL001 ended the transaction."""
        self.ops[kind] += 1
        send = time.monotonic()
        try:
            cur.execute(SQL[kind], args)
        except psycopg2.Error as exc:
            if kind != "acquire" or exc.pgcode != RATE_LIMIT_TIMEOUT:
                raise
            self.settle(key, send, time.monotonic(), False, kind)
            return False
        recv = time.monotonic()
        if kind in ("try", "acquire"):
            self.settle(key, send, recv, cur.fetchone()[0], kind)
        elif kind == "view":
            rows, bad = cur.fetchone()
            if bad:
                self.anomalies.append("the view showed %d inconsistent rows of %d" % (bad, rows))
        else:
            row = cur.fetchone()
            if row is not None:
                self.check_row(key, dict(zip([d[0] for d in cur.description], row)))
            elif kind == "row" and self.hot:
                self.anomalies.append("the view had no row for the hot key")
        return True

    def settle(self, key, send, recv, granted, kind):
        if granted is not True and granted is not False:
            self.anomalies.append("%s on %s returned %r" % (kind, key, granted))
            return
        self.counts[key][0 if granted else 1] += 1
        if self.hot:
            self.calls.append((send, recv, granted))
            if kind == "try" and not granted:
                self.hot_refusals.append((send, recv))

    def check_row(self, key, row):
        """A status row is consistent, and the hot key's counters never go back."""
        capacity, rate, configured = self.limits.get(key, self.limits[None])
        wrong = []
        if row["key"] != key:
            wrong.append("key %r" % row["key"])
        if (row["capacity"], row["refill_rate"]) != (capacity, rate):
            wrong.append("limits %r, %r" % (row["capacity"], row["refill_rate"]))
        if not 0 <= row["tokens"] <= capacity:
            wrong.append("tokens %r" % row["tokens"])
        if not -EPS <= row["utilization"] <= 100 + EPS:
            wrong.append("utilization %r" % row["utilization"])
        if row["retry_after"] < 0 or row["waiting"] < 0 or row["rejected_requests"] < 0:
            wrong.append("retry_after, waiting, rejected %r, %r, %r"
                         % (row["retry_after"], row["waiting"], row["rejected_requests"]))
        if "configured" in row and row["configured"] != configured:
            wrong.append("configured %r" % row["configured"])
        if self.hot:
            mine = self.counts[key][0]
            if row["total_requests"] < max(self.seen_total, mine):
                wrong.append("total_requests %d after %d seen and %d granted here"
                             % (row["total_requests"], self.seen_total, mine))
            if row["waiting"] > HOT_SESSIONS:
                wrong.append("waiting %d" % row["waiting"])
            self.seen_total = max(self.seen_total, row["total_requests"])
        if wrong:
            self.anomalies.append("%s: %s" % (key, ", ".join(wrong)))


class Pgbench:
    """pgbench with script files in a directory of its own, on keys of its own."""

    def __init__(self, binary, hot, prefix, seconds):
        self.dir = tempfile.mkdtemp(prefix="hr_pgbench.")
        self.calls = {}
        args = [binary, "-n", "-c", str(PGBENCH_CLIENTS), "-j", "2", "-T", str(seconds)]
        for name, weight, calls, text in PGBENCH_SCRIPTS:
            path = os.path.join(self.dir, name)
            with open(path, "w") as script:
                script.write(text.format(hot=hot, prefix=prefix, keys=PGBENCH_KEYS).lstrip())
            self.calls[path] = calls
            args += ["-f", "%s@%d" % (path, weight)]
        self.args = args
        self.process = None
        self.stdout = self.stderr = ""

    def start(self):
        self.process = subprocess.Popen(self.args, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, universal_newlines=True)

    def finish(self, timeout):
        self.stdout, self.stderr = self.process.communicate(timeout=timeout)

    def close(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.communicate()
        shutil.rmtree(self.dir, ignore_errors=True)

    def transactions(self):
        """{script path: transactions completed}, from pgbench's report."""
        found = re.findall(r"^SQL script \d+: (\S+)\n - weight: .*\n - (\d+) transactions",
                           self.stdout, re.M)
        return {path: int(count) for path, count in found}

    def failed(self):
        found = re.search(r"^number of failed transactions: (\d+)", self.stdout, re.M)
        return int(found.group(1)) if found else None


class LoadTest(unittest.TestCase):

    def setUp(self):
        self.conn = connect()
        self.addCleanup(self.conn.close)

    def configure(self, key, capacity, rate):
        """Give key limits of its own until cleanup; return the call's (send, recv)."""
        send, recv, _ = support.timed_row(self.conn, CONFIGURE, (key, capacity, rate))
        self.addCleanup(scalar, self.conn, UNCONFIGURE, (key,))
        return send, recv

    def require_room(self, needed):
        """Fail unless the bucket table has room for needed more keys."""
        with self.conn.cursor() as cur:
            cur.execute("SELECT current_setting('hacienda_ratelimit.max_buckets')::int, "
                        "(SELECT count(*) FROM hacienda_buckets)")
            most, used = cur.fetchone()
        if most - used < needed:
            self.fail("this test needs room for %d more buckets, but the server has %d of its "
                      "hacienda_ratelimit.max_buckets = %d in use; scripts/test starts it "
                      "with 20000" % (needed, used, most))

    def evicted(self):
        return scalar(self.conn, "SELECT buckets FROM hacienda_evicted()")

    def test_sixty_seconds_of_mixed_load(self):
        """64 clients mixing every call on a hot key and 10,000 keys: exact and in envelope.

        No call fails but with RL001; every key's counters equal what its
        clients saw; the hot key stays within capacity + rate x T in every
        window and, where demand exceeded supply, within one token below it;
        pgbench fails no transaction and its keys stay in their envelope.
        """
        binary = pgbench_binary()
        self.assertIsNotNone(binary, "pgbench not found (Debian package postgresql-15)")
        self.require_room(SPREAD_KEYS + PGBENCH_KEYS + 2)
        evicted_before = self.evicted()
        defaults = (scalar(self.conn, "SELECT current_setting('hacienda_ratelimit.capacity')"
                                      "::int"),
                    scalar(self.conn, "SELECT current_setting('hacienda_ratelimit.refill_rate')"
                                      "::float8"))

        run = "load-%s" % uuid.uuid4().hex[:12]
        hot = run + "-hot"
        spread = ["%s-k%05d" % (run, i) for i in range(SPREAD_KEYS)]
        pgbench_hot, pgbench_prefix = run + "-pgbench-hot", run + "-pgbench-"
        self.configure(hot, HOT_CAPACITY, HOT_RATE)
        limits = {hot: (HOT_CAPACITY, HOT_RATE, True), None: defaults + (False,)}

        barrier = threading.Barrier(HOT_SESSIONS + SPREAD_SESSIONS + 1)
        sessions = []

        def close_sessions():
            for session in sessions:
                session.join(5.0)
                session.conn.close()

        self.addCleanup(close_sessions)
        for i in range(HOT_SESSIONS + SPREAD_SESSIONS):
            if i < HOT_SESSIONS:
                sessions.append(Session(i, [hot], (1,), limits, barrier, run))
            else:
                sessions.append(Session(i, spread, (1, 1, 2, 5, defaults[0]), limits,
                                        barrier, run))
        pgbench = Pgbench(binary, pgbench_hot, pgbench_prefix, SECONDS)
        self.addCleanup(pgbench.close)

        # Everything starts together and runs for SECONDS.
        pgbench_send, _ = self.configure(pgbench_hot, HOT_CAPACITY, HOT_RATE)
        pgbench.start()
        for session in sessions:
            session.start()
        started = time.monotonic()
        for session in sessions:
            session.deadline = started + SECONDS
        barrier.wait(60)
        for session in sessions:
            session.join(max(0.0, started + SECONDS + 60 - time.monotonic()))
        self.assertEqual([i for i, s in enumerate(sessions) if s.is_alive()], [],
                         "sessions still running a minute after the end")
        pgbench.finish(max(1.0, started + SECONDS + 60 - time.monotonic()))
        ended = time.monotonic()

        # Nothing failed but hacienda_acquire() with RL001.
        errors = [e for s in sessions for e in s.errors]
        self.assertEqual(errors[:5], [], "%d errors, by SQLSTATE %r"
                         % (len(errors), collections.Counter(code for code, _ in errors)))
        anomalies = [a for s in sessions for a in s.anomalies]
        self.assertEqual(anomalies[:5], [], "%d inconsistent status rows" % len(anomalies))
        self.assertEqual(pgbench.process.returncode, 0,
                         "pgbench failed:\n%s\n%s" % (pgbench.stderr[-3000:],
                                                      pgbench.stdout[-3000:]))
        self.assertEqual(pgbench.failed(), 0, "pgbench:\n%s" % pgbench.stdout)

        # Each key's counters equal what its clients saw.
        seen = collections.defaultdict(lambda: [0, 0])
        for session in sessions:
            for key, (granted, refused) in session.counts.items():
                seen[key][0] += granted
                seen[key][1] += refused
        with self.conn.cursor() as cur:
            cur.execute("SELECT key, total_requests, rejected_requests, waiting "
                        "FROM hacienda_buckets WHERE key LIKE %s AND key NOT LIKE %s",
                        (run + "-%", pgbench_prefix + "%"))
            counted = {key: [total, rejected, waiting] for key, total, rejected, waiting in cur}
        self.assertEqual(self.evicted(), evicted_before,
                         "buckets were evicted during the load: raise max_buckets")
        wrong = [(key, seen.get(key), counted.get(key)) for key in set(seen) | set(counted)
                 if counted.get(key) != seen.get(key, [0, 0]) + [0]]
        self.assertEqual(sorted(wrong)[:10], [],
                         "%d of %d keys: (key, [granted, refused] seen, [total, rejected, "
                         "waiting] counted)" % (len(wrong), len(seen)))
        self.assertIn(hot, counted)

        # The hot key stays inside its envelope, window by window.
        calls = [c for s in sessions for c in s.calls]
        grants = [(send, recv) for send, recv, granted in calls if granted]
        refusals = [r for s in sessions for r in s.hot_refusals]
        excess, inside, allowed, length = window_excess(grants, HOT_CAPACITY, HOT_RATE)
        self.assertLessEqual(excess, 0, "%d hot-key grants certainly inside %.6f s; at most %d "
                             "allowed" % (inside, length, allowed))
        shortfall, checked = hot_key_shortfall(grants, refusals, HOT_CAPACITY, HOT_RATE)
        self.assertLessEqual(shortfall, 0, "the hot key granted %d fewer than capacity + "
                             "rate x T - 1 up to a refusal" % shortfall)

        # pgbench: its counters add up to its calls, and stay inside the envelope.
        transactions = pgbench.transactions()
        self.assertEqual(sorted(transactions), sorted(pgbench.calls), pgbench.stdout)
        pgbench_calls = sum(n * pgbench.calls[path] for path, n in transactions.items())
        with self.conn.cursor() as cur:
            cur.execute("SELECT key, total_requests, rejected_requests, capacity, refill_rate "
                        "FROM hacienda_buckets WHERE key LIKE %s", (pgbench_prefix + "%",))
            pgbench_rows = cur.fetchall()
        pgbench_end = time.monotonic()
        made = sum(row[1] + row[2] for row in pgbench_rows)
        # A client cut off by the end of the run may have made calls pgbench did not count.
        most_per_transaction = max(calls for _, _, calls, _ in PGBENCH_SCRIPTS)
        self.assertTrue(pgbench_calls <= made
                        <= pgbench_calls + PGBENCH_CLIENTS * most_per_transaction,
                        "pgbench completed %d calls; its keys counted %d"
                        % (pgbench_calls, made))
        over = [(key, total, capacity + math.floor(rate * (pgbench_end - pgbench_send) + EPS))
                for key, total, _, capacity, rate in pgbench_rows
                if total > capacity + math.floor(rate * (pgbench_end - pgbench_send) + EPS)]
        self.assertEqual(over, [], "(key, grants, allowed) of pgbench's keys")
        self.assertIn(pgbench_hot, [row[0] for row in pgbench_rows])

        # What the run did, for the log.
        ops = collections.Counter()
        for session in sessions:
            ops.update(session.ops)
        elapsed = ended - started
        spread_seen = [seen[k] for k in seen if k != hot]
        pgbench_hot_total = [row[1] for row in pgbench_rows if row[0] == pgbench_hot][0]
        lines = [
            "psycopg2: %d calls in %.1f s, %.0f/s (%s)"
            % (sum(ops.values()), elapsed, sum(ops.values()) / elapsed,
               ", ".join("%s %d" % item for item in sorted(ops.items()))),
            "hot key: %d granted, %d refused; worst window %+d against the envelope, "
            "worst shortfall %+d at %d of %d try_acquire refusals"
            % (counted[hot][0], counted[hot][1], excess, shortfall, checked, len(refusals)),
            "10,000 keys: %d used, %d granted, %d refused"
            % (len(spread_seen), sum(g for g, _ in spread_seen), sum(r for _, r in spread_seen)),
            "pgbench: %d transactions, %.0f/s, %d limiter calls; its hot key granted %d, "
            "at most %d allowed"
            % (sum(transactions.values()), sum(transactions.values()) / elapsed, pgbench_calls,
               pgbench_hot_total,
               HOT_CAPACITY + math.floor(HOT_RATE * (pgbench_end - pgbench_send) + EPS)),
        ]
        sys.stderr.write("\n" + "".join("  %s\n" % line for line in lines))

if __name__ == "__main__":
    unittest.main()
