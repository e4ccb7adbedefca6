"""What the parts of the benchmark share: settings per mode, connections, medians.

The server is the one bench/run starts; libpq finds it through PGHOST, PGPORT,
PGUSER and PGDATABASE.
"""

import math
import os
import statistics

import psycopg2

PGBENCH = os.path.join(os.environ.get("HR_PG_BIN", "/usr/lib/postgresql/15/bin"), "pgbench")


class Settings:
    """How long and how often each part runs: full, or --quick."""

    def __init__(self, mode):
        quick = mode == "quick"
        self.mode = mode
        self.clients = (1, 4, 16, 64)
        self.pgbench_seconds = 1 if quick else 2
        self.pgbench_repeats = 1 if quick else 5
        self.pgbench_warmup = not quick
        self.probes = not quick
        self.calls = 200000 if quick else 1000000
        self.status_calls = 50000 if quick else 200000
        # In one statement every UPDATE of the original design's row leaves a
        # version the next call steps over, so its cost per call grows with the
        # calls: about 26 us each for 1,000, 69 us for 4,000.  Keep it small.
        self.original_calls = 1000
        self.cost_repeats = 3 if quick else 7
        self.waiters = 50 if quick else 200
        self.waiter_rate = 50.0
        self.idle_seconds = 1.0 if quick else 5.0
        self.accuracy_seconds = 5 if quick else 30
        self.accuracy_clients = 32


def connect():
    """An autocommit connection to the benchmark server."""
    conn = psycopg2.connect()
    conn.autocommit = True
    return conn


def scalar(conn, sql, args=None):
    """The first column of the first row of a query."""
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchone()[0]


def median(values):
    """The median of a non-empty list, or None for an empty one."""
    return statistics.median(values) if values else None


def percentile(values, share):
    """The value below which share (0..1) of values fall, nearest rank."""
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]
