"""The monitoring files: postgres_exporter queries and Prometheus alert rules.

The queries run here against the test server, as SQL and through the real
postgres_exporter, on buckets the tests create under fresh keys.  The alert
rules go through promtool.  A missing exporter or promtool is a failure, not
a skip: install the Debian packages prometheus-postgres-exporter and
prometheus.
"""

import os
import re
import subprocess
import unittest

import yaml

import exporter_support
import support

MONITORING = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                          "monitoring")
QUERIES_PATH = os.path.normpath(os.path.join(MONITORING, "postgres_exporter_queries.yaml"))
RULES_FILE = "hacienda_ratelimit_alerts.yml"
RULES_TEST_FILE = "hacienda_ratelimit_alerts_test.yml"

# The per-bucket query, its most rows, and the type the exporter gives each usage.
BUCKET_NAMESPACE = "hacienda_ratelimit_bucket"
BUCKET_ROW_LIMIT = 100
EXPOSED_TYPES = {"GAUGE": "gauge", "COUNTER": "counter"}

# Type OIDs of the columns the exporter can read as numbers, and as labels.
NUMERIC_OIDS = {20, 21, 23, 700, 701, 1700}  # int8 int2 int4 float4 float8 numeric
TEXT_OIDS = {25, 1043}  # text varchar

# A configured bucket the tests drain: small and slow, so it stays nearly empty.
SLOW_CAPACITY = 5
SLOW_RATE = 0.5
SLOW_GRANTS = (2, 3)
SLOW_REFUSALS = 3


def setUpModule():
    support.ensure_extension()


def load_queries():
    """The namespaces of the queries file, each with its query and metrics."""
    with open(QUERIES_PATH, encoding="utf-8") as f:
        return yaml.safe_load(f)


def metric_usages(namespace):
    """[(column, usage)] of one namespace, in the order of the file."""
    return [(column, spec["usage"]) for entry in namespace["metrics"]
            for column, spec in entry.items()]


def run_query(conn, sql, before=None):
    """Run one query of the file; (column names, type OIDs, rows as dicts).

    before, if given, is a statement sent in the same round trip, so that its
    effect is seen with as little delay as possible.
    """
    with conn.cursor() as cur:
        cur.execute((before + ";\n" if before else "") + sql)
        names = [d.name for d in cur.description]
        oids = [d.type_code for d in cur.description]
        rows = [dict(zip(names, row)) for row in cur.fetchall()]
    return names, oids, rows


def bucket_rows(conn, before=None):
    """The rows of the per-bucket query, by key."""
    sql = load_queries()[BUCKET_NAMESPACE]["query"]
    return {row["key"]: row for row in run_query(conn, sql, before)[2]}


def server_epoch(conn):
    """The server's wall clock, as Unix seconds."""
    return float(support.scalar(conn, "SELECT extract(epoch FROM clock_timestamp())"))


class MonitoringCase(unittest.TestCase):
    """Connections and keys that are cleaned up after each test."""

    def session(self, **kwargs):
        """An autocommit connection closed after the test."""
        conn = support.connect(**kwargs)
        self.addCleanup(conn.close)
        return conn

    def drained_configured_key(self, conn):
        """A fresh configured bucket emptied by SLOW_GRANTS, then SLOW_REFUSALS."""
        key = support.fresh_key("mon")
        support.scalar(conn, "SELECT hacienda_configure(%s, %s, %s)",
                       (key, SLOW_CAPACITY, SLOW_RATE))
        self.addCleanup(self.unconfigure, key)

        for tokens in SLOW_GRANTS:
            self.assertTrue(support.scalar(conn, "SELECT hacienda_try_acquire(%s, %s)",
                                           (key, tokens)))
        for _ in range(SLOW_REFUSALS):
            self.assertFalse(support.scalar(conn, "SELECT hacienda_try_acquire(%s, %s)",
                                            (key, SLOW_CAPACITY)))
        return key

    def assert_slow_bucket_level(self, values):
        """Tokens, utilization and retry_after of a drained bucket agree."""
        tokens = values["tokens"]
        self.assertTrue(0 <= tokens <= SLOW_CAPACITY, values)
        self.assertAlmostEqual(values["utilization"], 100 * (1 - tokens / SLOW_CAPACITY),
                               places=6)
        wait = max(0.0, 1 - tokens) / SLOW_RATE
        self.assertAlmostEqual(values["retry_after_seconds"], wait, places=6)

    def unconfigure(self, key):
        """Return a test's bucket to the defaults (configured ones outlive restarts)."""
        conn = support.connect()
        support.scalar(conn, "SELECT hacienda_unconfigure(%s)::text", (key,))
        conn.close()


class QueryShapeTest(MonitoringCase):
    """Every query returns the columns its metrics name, with usable types."""

    def test_columns_match_metrics_and_types(self):
        conn = self.session()
        queries = load_queries()
        self.assertEqual(sorted(queries),
                         ["hacienda_ratelimit", "hacienda_ratelimit_bucket",
                          "hacienda_ratelimit_evicted"])

        for namespace, spec in queries.items():
            usages = metric_usages(spec)
            names, oids, rows = run_query(conn, spec["query"])
            self.assertEqual(names, [column for column, _ in usages], namespace)
            self.assertTrue(spec.get("master"), "%s must run once per server" % namespace)

            for (column, usage), oid in zip(usages, oids):
                where = "%s.%s" % (namespace, column)
                if usage == "LABEL":
                    self.assertIn(oid, TEXT_OIDS, where)
                else:
                    # Prometheus names counters, and only counters, "..._total".
                    expected = "COUNTER" if column.endswith("_total") else "GAUGE"
                    self.assertEqual(usage, expected, where)
                    self.assertIn(oid, NUMERIC_OIDS, where)
                    for row in rows:
                        self.assertIsNotNone(row[column], where)

    def test_queries_run_for_a_role_without_privileges(self):
        conn = self.session()
        role = support.fresh_key("mon_role").replace("-", "_")
        with conn.cursor() as cur:
            cur.execute('CREATE ROLE "%s" NOLOGIN' % role)
        self.addCleanup(self.drop_role, role)

        with conn.cursor() as cur:
            cur.execute('SET ROLE "%s"' % role)
        try:
            for namespace, spec in load_queries().items():
                rows = run_query(conn, spec["query"])[2]
                self.assertTrue(rows or namespace == BUCKET_NAMESPACE, namespace)
        finally:
            with conn.cursor() as cur:
                cur.execute("RESET ROLE")

    def drop_role(self, role):
        """Remove the role a test created."""
        conn = support.connect()
        with conn.cursor() as cur:
            cur.execute('DROP ROLE IF EXISTS "%s"' % role)
        conn.close()


class BucketValuesTest(MonitoringCase):
    """The per-bucket rows carry the values of hacienda_buckets."""

    def test_configured_bucket(self):
        conn = self.session()
        started = server_epoch(conn)
        key = self.drained_configured_key(conn)
        ended = server_epoch(conn)

        row = bucket_rows(conn).get(key)
        self.assertIsNotNone(row, "a configured bucket is always exported")
        self.assertEqual(row["capacity"], SLOW_CAPACITY)
        self.assertEqual(row["refill_rate"], SLOW_RATE)
        self.assertEqual(row["configured"], 1)
        self.assertEqual(row["requests_total"], len(SLOW_GRANTS))
        self.assertEqual(row["rejected_requests_total"], SLOW_REFUSALS)
        self.assertEqual(row["waiting"], 0)
        self.assertTrue(started - 1 <= row["last_request_timestamp_seconds"] <= ended + 1,
                        "last request %r outside [%r, %r]"
                        % (row["last_request_timestamp_seconds"], started, ended))

        self.assert_slow_bucket_level(row)

    def test_busy_default_bucket_and_a_bucket_never_granted(self):
        conn = self.session()
        busy = support.fresh_key("mon")
        idle = support.fresh_key("mon")
        support.scalar(conn, "SELECT hacienda_configure(%s, 3, 1)", (idle,))
        self.addCleanup(self.unconfigure, idle)

        # Empty the bucket and read the rows in one round trip: the most used
        # buckets are exported, and this one is full again within 2 s.
        with conn.cursor() as cur:
            drain = cur.mogrify("SELECT hacienda_try_acquire(%s, %s)",
                                (busy, int(support.DEFAULTS["capacity"]))).decode()
        rows = bucket_rows(conn, before=drain)
        self.assertIn(busy, rows, "an emptied bucket is among the most used")
        self.assertEqual(rows[busy]["configured"], 0)
        self.assertEqual(rows[busy]["capacity"], support.DEFAULTS["capacity"])
        self.assertEqual(rows[busy]["refill_rate"], support.DEFAULTS["refill_rate"])
        self.assertEqual(rows[busy]["requests_total"], 1)
        self.assertGreater(rows[busy]["utilization"], 0)

        self.assertEqual(rows[idle]["last_request_timestamp_seconds"], 0)
        self.assertEqual(rows[idle]["requests_total"], 0)
        self.assertEqual(rows[idle]["tokens"], 3)

    def test_selection_is_bounded_and_puts_configured_first(self):
        conn = self.session()
        self.drained_configured_key(conn)

        rows = list(bucket_rows(conn).values())
        self.assertLessEqual(len(rows), BUCKET_ROW_LIMIT)
        flags = [row["configured"] for row in rows]
        self.assertEqual(flags, sorted(flags, reverse=True))

        configured = support.scalar(conn, "SELECT count(*) FROM hacienda_buckets "
                                          "WHERE configured AND key IS NOT NULL")
        self.assertEqual(flags.count(1), min(configured, BUCKET_ROW_LIMIT))

    def test_summary_counts_every_bucket(self):
        conn = self.session()
        key = self.drained_configured_key(conn)
        spec = load_queries()["hacienda_ratelimit"]

        summary = run_query(conn, spec["query"])[2][0]
        buckets = support.scalar(conn, "SELECT count(*) FROM hacienda_buckets")
        self.assertEqual(summary["buckets"], buckets)
        self.assertGreaterEqual(summary["configured_buckets"], 1)
        self.assertGreaterEqual(summary["max_utilization"],
                                bucket_rows(conn)[key]["utilization"] - 1e-9)


class UnshowableKeyTest(MonitoringCase):
    """A database that cannot show a key gets no row for it, not a null label."""

    def setUp(self):
        self.dbname = support.fresh_key("mon_latin1").replace("-", "_")
        conn = self.session()
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE %s ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' "
                        "TEMPLATE template0" % self.dbname)
        self.addCleanup(self.drop_database)

        latin1 = support.connect(dbname=self.dbname)
        with latin1.cursor() as cur:
            cur.execute("CREATE EXTENSION hacienda_ratelimit")
        latin1.close()

        # Configured, so it would be among the exported rows if it had a label.
        self.key = support.fresh_key("\u65e5\u672c")
        support.scalar(conn, "SELECT hacienda_configure(%s, 4, 1)", (self.key,))
        self.addCleanup(self.unconfigure, self.key)

    def drop_database(self):
        """Remove the database of the test, with any session still in it."""
        conn = support.connect()
        with conn.cursor() as cur:
            cur.execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % self.dbname)
        conn.close()

    def test_null_keys_are_left_out(self):
        conn = self.session(dbname=self.dbname)
        unshown = support.scalar(conn, "SELECT count(*) FROM hacienda_buckets "
                                       "WHERE key IS NULL")
        self.assertGreaterEqual(unshown, 1)

        rows = bucket_rows(conn)
        self.assertNotIn(None, rows)
        self.assertEqual(len(rows), min(BUCKET_ROW_LIMIT,
                                        support.scalar(conn, "SELECT count(*) FROM "
                                                             "hacienda_buckets WHERE "
                                                             "key IS NOT NULL")))

    def test_exporter_scrape_succeeds(self):
        binary = find_exporter_or_fail(self)
        with exporter_support.running_exporter(binary, QUERIES_PATH,
                                               dbname=self.dbname) as exporter:
            status, body = exporter.scrape()
            self.assertEqual(status, 200, body[:2000])
            _, samples = exporter_support.parse_exposition(body)

        values = {name: value for name, _, value in samples if name.startswith("pg_")}
        self.assertEqual(values.get("pg_exporter_last_scrape_error"), 0.0, body[:2000])
        keys = {labels.get("key") for name, labels, _ in samples
                if name == "hacienda_ratelimit_bucket_capacity"}
        self.assertNotIn("", keys)
        self.assertNotIn(self.key, keys)


def find_exporter_or_fail(test):
    """The exporter binary; a missing one fails the test."""
    binary = exporter_support.find_exporter()
    if binary is None:
        test.fail("postgres_exporter not found: install the Debian package %s"
                  % exporter_support.EXPORTER_PACKAGE)
    return binary


class ExporterTest(MonitoringCase):
    """The real postgres_exporter turns the queries into the expected series."""

    def test_scrape_shows_the_buckets(self):
        binary = find_exporter_or_fail(self)
        conn = self.session()
        started = server_epoch(conn)
        key = self.drained_configured_key(conn)
        ended = server_epoch(conn)

        with exporter_support.running_exporter(binary, QUERIES_PATH) as exporter:
            status, body = exporter.scrape()
            log = exporter.log()
        self.assertEqual(status, 200, body[:2000])
        types, samples = exporter_support.parse_exposition(body)

        # Every metric of the file is there, with the type its usage says.
        for namespace, spec in load_queries().items():
            for column, usage in metric_usages(spec):
                if usage == "LABEL":
                    continue
                name = "%s_%s" % (namespace, column)
                self.assertEqual(types.get(name), EXPOSED_TYPES[usage], name)
                self.assertTrue(any(s[0] == name for s in samples), name)

        # The drained bucket's series carry its values.
        mine = {name[len(BUCKET_NAMESPACE) + 1:]: value for name, labels, value in samples
                if name.startswith(BUCKET_NAMESPACE + "_") and labels.get("key") == key}
        self.assertEqual(mine.get("capacity"), SLOW_CAPACITY, log)
        self.assertEqual(mine.get("refill_rate"), SLOW_RATE)
        self.assertEqual(mine.get("configured"), 1)
        self.assertEqual(mine.get("requests_total"), len(SLOW_GRANTS))
        self.assertEqual(mine.get("rejected_requests_total"), SLOW_REFUSALS)
        self.assertEqual(mine.get("waiting"), 0)
        self.assertTrue(started - 1 <= mine["last_request_timestamp_seconds"] <= ended + 1)
        self.assert_slow_bucket_level(mine)

        # However many buckets the server holds, the scrape shows at most the limit.
        keys = {labels["key"] for name, labels, _ in samples
                if name == BUCKET_NAMESPACE + "_capacity"}
        self.assertLessEqual(len(keys), BUCKET_ROW_LIMIT)

    def test_exporter_is_stopped(self):
        binary = find_exporter_or_fail(self)
        with exporter_support.running_exporter(binary, QUERIES_PATH) as exporter:
            process = exporter.process
            self.assertIsNone(process.poll())
        self.assertIsNotNone(process.poll(), "the exporter outlived its context")


class AlertRulesTest(unittest.TestCase):
    """The alert rules are valid, pass their unit tests, and use exported metrics."""

    def promtool(self, *args):
        """Run promtool in monitoring/; a missing one fails the test."""
        binary = exporter_support.find_promtool()
        if binary is None:
            self.fail("promtool not found: install the Debian package %s"
                      % exporter_support.PROMTOOL_PACKAGE)
        return subprocess.run([binary] + list(args), cwd=MONITORING, capture_output=True,
                              text=True, timeout=120)

    def test_check_rules(self):
        result = self.promtool("check", "rules", RULES_FILE)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("SUCCESS", result.stdout)

    def test_rule_unit_tests(self):
        result = self.promtool("test", "rules", RULES_TEST_FILE)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("SUCCESS", result.stdout)

    def test_rules_name_exported_metrics(self):
        exported = {"%s_%s" % (namespace, column)
                    for namespace, spec in load_queries().items()
                    for column, usage in metric_usages(spec) if usage != "LABEL"}
        with open(os.path.join(MONITORING, RULES_FILE), encoding="utf-8") as f:
            rules = yaml.safe_load(f)

        for group in rules["groups"]:
            for rule in group["rules"]:
                used = set(re.findall(r"hacienda_ratelimit\w*", rule["expr"]))
                self.assertTrue(used, rule["alert"])
                self.assertLessEqual(used, exported, rule["alert"])


if __name__ == "__main__":
    unittest.main()
