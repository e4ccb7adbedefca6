"""Benchmark of hacienda_ratelimit, against the server bench/run starts.

  bench.py measure MODE RESULTS WORKDIR   everything but the second memory reading
  bench.py memory RESULTS                 one more shared memory reading
  bench.py report RESULTS MARKDOWN SECONDS  write the results table

RESULTS is a JSON file kept between the steps; MODE is full or quick.  Speed
never fails the run: the report says which targets were met.

Run with /usr/bin/python3, which has Debian's psycopg2.
"""

import datetime
import json
import os
import platform
import sys
import time

import accuracy
import common
import inbackend
import memory
import report
import roundtrips
import waiting

STARTED = time.monotonic()


def log(message):
    """A progress line on stderr, with the seconds since the start."""
    print("[%5.1f s] %s" % (time.monotonic() - STARTED, message), file=sys.stderr, flush=True)


def machine():
    """The CPU, memory, kernel and PostgreSQL the figures were measured on."""
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as info:
        kib = int(info.readline().split()[1])
    conn = common.connect()
    postgres = common.scalar(conn, "SELECT version()").split(" on ")[0]
    conn.close()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": kib / 1024 / 1024,
        "kernel": platform.release(),
        "postgres": postgres,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def save(results, path):
    """Write the results so far to the JSON file at path."""
    with open(path, "w") as out:
        json.dump(results, out, indent=1)


def measure(mode, path, workdir):
    """Run every part in turn, saving the results after each."""
    settings = common.Settings(mode)
    results = {"settings": vars(settings), "machine": machine()}
    parts = [
        ("roundtrips", lambda: roundtrips.measure(
            roundtrips.WORKLOADS, settings.clients, settings, workdir, log,
            warmup=settings.pgbench_warmup)),
        ("probes", lambda: roundtrips.measure(
            roundtrips.PROBES, (roundtrips.PROBE_CLIENTS,), settings, workdir, log)
         if settings.probes else None),
        ("cost", lambda: inbackend.measure(settings, log)),
        ("waiting", lambda: waiting.measure(settings, log)),
        ("accuracy", lambda: accuracy.measure(settings, workdir, log)),
        ("memory_readings", lambda: [memory.measure()]),
    ]
    for name, part in parts:
        results[name] = part()
        save(results, path)


def add_memory_reading(path):
    """Add a shared memory reading, after bench/run restarted the server."""
    with open(path) as data:
        results = json.load(data)
    log("shared memory at max_buckets = %s" % results["memory_readings"][0]["default"])
    results["memory_readings"].append(memory.measure())
    save(results, path)


def write_report(path, markdown_path, seconds):
    """Write the Markdown report; seconds is how long the run has taken."""
    with open(path) as data:
        results = json.load(data)
    results["memory"] = memory.summarise(results["memory_readings"])
    results["elapsed"] = seconds
    with open(markdown_path, "w") as out:
        out.write(report.markdown(results))


def main(argv):
    """Dispatch to a step; see the module's docstring."""
    if len(argv) == 4 and argv[0] == "measure" and argv[1] in ("full", "quick"):
        measure(argv[1], argv[2], argv[3])
    elif len(argv) == 2 and argv[0] == "memory":
        add_memory_reading(argv[1])
    elif len(argv) == 4 and argv[0] == "report":
        write_report(argv[1], argv[2], int(argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
