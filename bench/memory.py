"""Shared memory: the extension's allocations at the server's max_buckets.

bench/run reads this at two values of hacienda_ratelimit.max_buckets, with a
restart between.  pg_shmem_allocations names the extension's own structures;
the buckets of its hash table come from the anonymous allocations, and the
space it asks for at start and leaves unused stays in the unnamed free row.
So the cost of one bucket is the slope between the two readings: of the whole
segment (what the server sets aside) and of what is allocated in it.
"""

from common import connect

QUERY = """
SELECT current_setting('hacienda_ratelimit.max_buckets')::int,
       sum(allocated_size),
       sum(allocated_size) FILTER (WHERE name IS NOT NULL),
       coalesce(sum(allocated_size) FILTER (WHERE name LIKE 'hacienda\\_ratelimit%%'), 0)
FROM pg_shmem_allocations
"""


def measure():
    """One reading: max_buckets, its default, and the segment, allocated and named bytes."""
    conn = connect()
    with conn.cursor() as cur:
        cur.execute(QUERY)
        max_buckets, segment, allocated, named = cur.fetchone()
        cur.execute("SELECT boot_val::int FROM pg_settings "
                    "WHERE name = 'hacienda_ratelimit.max_buckets'")
        default = cur.fetchone()[0]
        cur.execute("SELECT name, allocated_size FROM pg_shmem_allocations "
                    "WHERE name LIKE 'hacienda\\_ratelimit%%' ORDER BY name")
        parts = {name: int(size) for name, size in cur.fetchall()}
    conn.close()
    return {"max_buckets": max_buckets, "default": default, "segment": int(segment),
            "allocated": int(allocated), "named": int(named), "parts": parts}


def summarise(readings):
    """Per-bucket slopes and the extension's total at each reading."""
    low, high = sorted(readings, key=lambda r: r["max_buckets"])
    buckets = high["max_buckets"] - low["max_buckets"]
    reserved = (high["segment"] - low["segment"]) / buckets
    allocated = (high["allocated"] - low["allocated"]) / buckets
    anonymous = allocated - (high["named"] - low["named"]) / buckets
    totals = {}
    for reading in (low, high):
        # Its named structures, plus its share of the anonymous allocations.
        totals[str(reading["max_buckets"])] = (reading["named"] +
                                               anonymous * reading["max_buckets"])
    return {"readings": readings, "reserved_per_bucket": reserved,
            "allocated_per_bucket": allocated, "totals": totals,
            "default_max_buckets": low["default"]}
