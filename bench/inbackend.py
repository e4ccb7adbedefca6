"""The cost of one call inside the backend, in nanoseconds.

Each case is a predicate evaluated once per row of generate_series(1, N); its
cost per call is the time of the count over N rows, less that of the same
count with a trivial predicate of the same shape, divided by N.  Every
predicate ends in IS NOT NULL, so each call counts whether it was granted or
not.  The case and its baseline alternate, and the median of the differences
is kept.  work_mem is raised so that no run spills generate_series to disk.
"""

import time

from common import connect, median

# name, label, measured predicate, trivial predicate, and the attribute of
# Settings that gives the calls per query
CASES = [
    ("nextval", "nextval() (reference)",
     "nextval('bench_seq') IS NOT NULL", "g IS NOT NULL", "calls"),
    ("advisory", "pg_try_advisory_lock + pg_advisory_unlock (reference)",
     "(pg_try_advisory_lock(42) AND pg_advisory_unlock(42)) IS NOT NULL",
     "g IS NOT NULL", "calls"),
    ("hot", "hacienda_try_acquire(), one hot key",
     "hacienda_try_acquire('hot') IS NOT NULL", "g IS NOT NULL", "calls"),
    ("keys", "hacienda_try_acquire(), 10,000 keys",
     "hacienda_try_acquire('key-' || g % 10000) IS NOT NULL",
     "('key-' || g % 10000) IS NOT NULL", "calls"),
    ("status", "hacienda_status(), the function alone",
     "(hacienda_status('hot')).tokens IS NOT NULL", "g IS NOT NULL", "status_calls"),
    ("original", "original design, one hot key",
     "original_try_acquire('in-backend') IS NOT NULL", "g IS NOT NULL", "original_calls"),
]

QUERY = "SELECT count(*) FROM generate_series(1, %d) AS g WHERE %s"


def timed(cur, sql):
    """Seconds to run sql and fetch its row."""
    start = time.perf_counter()
    cur.execute(sql)
    cur.fetchall()
    return time.perf_counter() - start


def measure(settings, log):
    """{name: {"ns": median ns per call, "calls": N, "pairs": [(case s, base s)]}}."""
    conn = connect()
    results = {}
    with conn.cursor() as cur:
        cur.execute("SET work_mem = '512MB'")
        for name, label, predicate, baseline, calls_setting in CASES:
            calls = getattr(settings, calls_setting)
            log("cost per call: %s, %d calls x %d" % (label, calls, settings.cost_repeats))
            case_sql = QUERY % (calls, predicate)
            base_sql = QUERY % (calls, baseline)
            # One untimed pass creates the keys and warms the caches.
            timed(cur, case_sql)
            timed(cur, base_sql)
            pairs = []
            for rep in range(settings.cost_repeats):
                if rep % 2 == 0:
                    case, base = timed(cur, case_sql), timed(cur, base_sql)
                else:
                    base, case = timed(cur, base_sql), timed(cur, case_sql)
                pairs.append((case, base))
            results[name] = {
                "label": label,
                "ns": median([(c - b) / calls * 1e9 for c, b in pairs]),
                "calls": calls,
                "pairs": pairs,
            }
    conn.close()
    return results
