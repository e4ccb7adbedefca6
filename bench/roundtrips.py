"""Round trips: pgbench on each workload at several client counts.

Each repetition runs every workload once per client count, in an order that
rotates from one repetition to the next, so that no workload always follows
the same one.  Each run's throughput is also divided by that of SELECT 1 in
the same repetition; the report gives the medians of the figures and of these
ratios.  Queries go in pgbench's simple protocol, as psycopg2 sends them,
unless a workload says otherwise.

The probes run the same way at one client count, to show where the
differences from SELECT 1 come from: planning a function call and its default
arguments, and returning a row of ten columns.
"""

import os
import re
import subprocess

from common import PGBENCH, median

FLOOR = "select1"
TEN_COLUMNS = ("SELECT 'default'::text AS key, 20::float8 AS tokens, 20 AS capacity, "
               "10::float8 AS refill_rate, 0::int8 AS total_requests, "
               "0::int8 AS rejected_requests, 0 AS waiting, now() AS last_request, "
               "0::float8 AS utilization, 0::float8 AS retry_after;")


class Workload:
    """One pgbench script, with the server options and protocol it runs under."""

    def __init__(self, name, label, script, options=None, protocol="simple"):
        self.name, self.label, self.script = name, label, script
        self.options, self.protocol = options, protocol


WORKLOADS = [
    Workload(FLOOR, "SELECT 1", "SELECT 1;"),
    Workload("hot", "hacienda_try_acquire(), one hot key", "SELECT hacienda_try_acquire();"),
    Workload("keys", "hacienda_try_acquire('key-N'), 10,000 random keys",
             "\\set k random(1, 10000)\nSELECT hacienda_try_acquire('key-:k');"),
    Workload("status", "SELECT * FROM hacienda_status()", "SELECT * FROM hacienda_status();"),
    Workload("acquire", "hacienda_acquire(0.01), saturated key, RL001 caught",
             "SELECT bench_acquire(0.01, 'saturated');"),
    Workload("original", "original design", "SELECT original_try_acquire();"),
    Workload("original_async", "original design, synchronous_commit off",
             "SELECT original_try_acquire();", options="-c synchronous_commit=off"),
]

PROBES = [
    Workload(FLOOR, "SELECT 1", "SELECT 1;"),
    Workload("abs", "SELECT abs(1): a built-in function", "SELECT abs(1);"),
    Workload("hot", "SELECT hacienda_try_acquire()", "SELECT hacienda_try_acquire();"),
    Workload("explicit", "SELECT hacienda_try_acquire('default', 1): no defaults to fill in",
             "SELECT hacienda_try_acquire('default', 1);"),
    Workload("select1_prepared", "SELECT 1, prepared", "SELECT 1;", protocol="prepared"),
    Workload("hot_prepared", "SELECT hacienda_try_acquire(), prepared",
             "SELECT hacienda_try_acquire();", protocol="prepared"),
    Workload("status", "SELECT * FROM hacienda_status()", "SELECT * FROM hacienda_status();"),
    Workload("ten_columns", "a constant row of the same ten columns", TEN_COLUMNS),
]
PROBE_CLIENTS = 16


def run_pgbench(script, clients, seconds, workload):
    """Run pgbench on one script file; return (tps, average latency in ms)."""
    env = dict(os.environ)
    if workload.options:
        env["PGOPTIONS"] = workload.options
    cmd = [PGBENCH, "-n", "-M", workload.protocol, "-T", str(seconds), "-c", str(clients),
           "-j", str(min(clients, 2)), "-f", script]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError("pgbench failed on %s:\n%s%s" % (script, done.stdout, done.stderr))
    tps = re.search(r"^tps = ([0-9.]+)", done.stdout, re.M)
    latency = re.search(r"^latency average = ([0-9.]+) ms", done.stdout, re.M)
    failed = re.search(r"^number of failed transactions: (\d+)", done.stdout, re.M)
    if not tps or not latency or (failed and int(failed.group(1)) != 0):
        raise RuntimeError("unexpected pgbench output on %s:\n%s" % (script, done.stdout))
    return float(tps.group(1)), float(latency.group(1))


def write_scripts(workloads, workdir):
    """One pgbench script file per workload; returns {name: path}."""
    paths = {}
    for workload in workloads:
        paths[workload.name] = os.path.join(workdir, "pgbench-%s.sql" % workload.name)
        with open(paths[workload.name], "w") as script:
            script.write(workload.script + "\n")
    return paths


def measure(workloads, clients_list, settings, workdir, log, warmup=False):
    """All the runs of workloads; returns summarise() of them."""
    paths = write_scripts(workloads, workdir)
    runs = {w.name: {c: [] for c in clients_list} for w in workloads}

    if warmup:
        log("round trips: warming up")
        for workload in workloads:
            run_pgbench(paths[workload.name], 4, 1, workload)

    for clients in clients_list:
        for rep in range(settings.pgbench_repeats):
            log("round trips: %d workloads, %d clients, repetition %d of %d"
                % (len(workloads), clients, rep + 1, settings.pgbench_repeats))
            shift = rep % len(workloads)
            for workload in workloads[shift:] + workloads[:shift]:
                runs[workload.name][clients].append(run_pgbench(
                    paths[workload.name], clients, settings.pgbench_seconds, workload))
    return summarise(runs)


def summarise(runs):
    """Medians of throughput and latency, and medians of the per-repetition ratios.

    Keyed by workload, then by the client count as a string, as JSON keeps it.
    """
    summary = {}
    for name, by_clients in runs.items():
        summary[name] = {}
        for clients, results in by_clients.items():
            floor = runs[FLOOR][clients]
            summary[name][str(clients)] = {
                "tps": median([tps for tps, _ in results]),
                "latency_ms": median([lat for _, lat in results]),
                "tps_ratio": median([r[0] / f[0] for r, f in zip(results, floor)]),
                "latency_ratio": median([r[1] / f[1] for r, f in zip(results, floor)]),
                "runs": results,
            }
    return summary


def pair_ratio(summary, name, other, clients):
    """The median of name's throughput over other's, repetition by repetition."""
    pairs = zip(summary[name][clients]["runs"], summary[other][clients]["runs"])
    return median([a[0] / b[0] for a, b in pairs])
