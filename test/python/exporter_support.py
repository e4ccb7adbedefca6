"""Run prometheus postgres_exporter against the test server, for test_monitoring.py.

The exporter is the binary of Debian's prometheus-postgres-exporter (or
upstream's postgres_exporter, or the one HR_POSTGRES_EXPORTER names).  It
listens on a free port of 127.0.0.1 and is always stopped on the way out.
"""

import contextlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

# Where to look for the binaries, and the Debian packages that ship them.
EXPORTER_NAMES = ("prometheus-postgres-exporter", "postgres_exporter")
EXPORTER_PACKAGE = "prometheus-postgres-exporter"
PROMTOOL_PACKAGE = "prometheus"


def find_exporter():
    """Path of the postgres_exporter binary, or None."""
    named = os.environ.get("HR_POSTGRES_EXPORTER")
    if named:
        return named
    for name in EXPORTER_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def find_promtool():
    """Path of promtool, or None."""
    return os.environ.get("HR_PROMTOOL") or shutil.which("promtool")


def data_source_name(dbname=None):
    """A libpq DSN for the server the tests use, from the PG* variables."""
    parts = {
        "host": os.environ.get("PGHOST", "/var/run/postgresql"),
        "port": os.environ.get("PGPORT", "5432"),
        "user": os.environ.get("PGUSER", "postgres"),
        "dbname": dbname or os.environ.get("PGDATABASE", "postgres"),
        "sslmode": "disable",
    }
    return " ".join("%s=%s" % item for item in parts.items())


def free_port():
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(url, timeout):
    """(HTTP status, body) of a GET, also for error statuses."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


class Exporter:
    """A running exporter: scrape() its metrics, log() what it printed."""

    def __init__(self, process, url, log_path):
        self.process = process
        self.url = url
        self.log_path = log_path

    def scrape(self, timeout=30.0):
        """(HTTP status, body) of one scrape of /metrics."""
        return fetch(self.url, timeout)

    def log(self):
        """What the exporter printed so far."""
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()


def wait_until_listening(exporter, timeout):
    """Return once the exporter answers HTTP; raise if it exits or never does."""
    deadline = time.monotonic() + timeout
    while True:
        if exporter.process.poll() is not None:
            raise AssertionError("postgres_exporter exited with status %d:\n%s"
                                 % (exporter.process.returncode, exporter.log()))
        try:
            fetch(exporter.url.replace("/metrics", "/"), timeout=5)
            return
        except (urllib.error.URLError, ConnectionError, socket.timeout):
            pass
        if time.monotonic() > deadline:
            raise AssertionError("postgres_exporter did not listen within %.0f s:\n%s"
                                 % (timeout, exporter.log()))
        time.sleep(0.1)


def stop(process):
    """End the exporter process and reap it, by force if it will not stop."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@contextlib.contextmanager
def running_exporter(binary, queries_path, dbname=None, start_timeout=30.0):
    """Start the exporter with only the queries of queries_path; stop it on exit."""
    workdir = tempfile.mkdtemp(prefix="hr-exporter-")
    log_path = os.path.join(workdir, "exporter.log")
    port = free_port()
    env = dict(os.environ, DATA_SOURCE_NAME=data_source_name(dbname))
    argv = [binary,
            "--disable-default-metrics",
            "--disable-settings-metrics",
            "--extend.query-path=%s" % queries_path,
            "--web.listen-address=127.0.0.1:%d" % port]

    with open(log_path, "w") as log:
        process = subprocess.Popen(argv, env=env, cwd=workdir, stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT)
    exporter = Exporter(process, "http://127.0.0.1:%d/metrics" % port, log_path)
    try:
        wait_until_listening(exporter, start_timeout)
        yield exporter
    finally:
        stop(process)
        shutil.rmtree(workdir, ignore_errors=True)


# One sample of the text exposition format: name, optional {labels}, value.
SAMPLE_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$')
LABEL_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
UNESCAPES = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


def parse_exposition(text):
    """Parse Prometheus text format into (types, samples).

    types maps a metric name to its TYPE ("gauge", "counter", ...); samples is
    a list of (name, labels dict, float value).
    """
    types = {}
    samples = []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(None, 3)
            types[name] = kind
            continue
        if not line or line.startswith("#"):
            continue

        match = SAMPLE_LINE.match(line)
        if match is None:
            raise AssertionError("not a sample line: %r" % line)
        name, label_text, value = match.groups()
        labels = {k: re.sub(r'\\[\\"n]', lambda m: UNESCAPES[m.group(0)], v)
                  for k, v in LABEL_PAIR.findall(label_text or "")}
        samples.append((name, labels, float(value)))
    return types, samples
