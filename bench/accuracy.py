"""Accuracy: pgbench clients saturate one key; every grant's time is recorded.

The key has limits of its own.  Once the clients have drained it,
hacienda_reset() fills it at t0, and from then on the bucket may grant at most
capacity + rate x t tokens by t0 + t.  Each client's statement inserts the
server's clock reading into bench_grants right after a call that was granted,
so a grant is recorded a few microseconds after it happened, never before.
The count over the window [t0, t0 + seconds] is compared with the envelope,
and two data files are written for bench/plot.gp:

  accuracy-grants.dat   t, grants so far, envelope: one line per grant
  accuracy-bins.dat     start of each 100 ms, grants in it
  accuracy-params.gp    the clients, capacity and rate, as gnuplot variables
"""

import os
import subprocess
import time

from common import PGBENCH, connect, scalar

KEY = "accuracy"
CAPACITY = 20
RATE = 100.0
BIN = 0.1  # seconds
LEAD = 1.0  # seconds of saturation before the reset

SCRIPT = ("INSERT INTO bench_grants (t) "
          "SELECT extract(epoch FROM clock_timestamp())::float8 "
          "FROM (SELECT hacienda_try_acquire('%s') AS granted OFFSET 0) AS call "
          "WHERE granted;\n" % KEY)


def measure(settings, workdir, log):
    """The grants counted in the window against capacity + rate x seconds."""
    seconds = settings.accuracy_seconds
    conn = connect()
    scalar(conn, "SELECT hacienda_configure(%s, %s, %s)", (KEY, CAPACITY, RATE))
    with conn.cursor() as cur:
        cur.execute("TRUNCATE bench_grants")
    script = os.path.join(workdir, "pgbench-accuracy.sql")
    with open(script, "w") as out:
        out.write(SCRIPT)

    log("accuracy: %d clients on one key for %d s" % (settings.accuracy_clients, seconds))
    clients = settings.accuracy_clients
    bench = subprocess.Popen(
        [PGBENCH, "-n", "-T", str(int(LEAD + seconds) + 2), "-c", str(clients), "-j", "2",
         "-f", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(LEAD)
    t0 = scalar(conn, "SELECT extract(epoch FROM clock_timestamp())::float8 "
                      "FROM (SELECT hacienda_reset(%s) OFFSET 0) AS reset", (KEY,))
    output, _ = bench.communicate()
    if bench.returncode != 0:
        raise RuntimeError("pgbench failed in the accuracy run:\n%s" % output)

    with conn.cursor() as cur:
        cur.execute("SELECT t - %s FROM bench_grants WHERE t >= %s ORDER BY t", (t0, t0))
        times = [row[0] for row in cur.fetchall()]
        cur.execute("SELECT count(*) FROM bench_grants WHERE t < %s", (t0,))
        before = cur.fetchone()[0]
    scalar(conn, "SELECT hacienda_unconfigure(%s)", (KEY,))
    conn.close()

    if not times or times[-1] < seconds:
        raise RuntimeError("the clients stopped before the end of the window")
    window = [t for t in times if t <= seconds]
    write_data(workdir, window, seconds, clients)
    return {
        "clients": clients,
        "seconds": seconds,
        "capacity": CAPACITY,
        "rate": RATE,
        "granted": len(window),
        "envelope": CAPACITY + RATE * seconds,
        "granted_before_reset": before,
        "max_over_envelope": max(n + 1 - (CAPACITY + RATE * t)
                                 for n, t in enumerate(window)),
    }


def write_data(workdir, times, seconds, clients):
    """The files bench/plot.gp reads, in workdir."""
    with open(os.path.join(workdir, "accuracy-params.gp"), "w") as out:
        out.write("clients = %d\ncapacity = %d\nrate = %g\n" % (clients, CAPACITY, RATE))
    with open(os.path.join(workdir, "accuracy-grants.dat"), "w") as out:
        out.write("0 0 %d\n" % CAPACITY)
        for count, t in enumerate(times, 1):
            out.write("%.6f %d %.6f\n" % (t, count, CAPACITY + RATE * t))
    bins = [0] * int(round(seconds / BIN))
    for t in times:
        bins[min(int(t / BIN), len(bins) - 1)] += 1
    with open(os.path.join(workdir, "accuracy-bins.dat"), "w") as out:
        for index, count in enumerate(bins):
            out.write("%.1f %d\n" % (index * BIN, count))
