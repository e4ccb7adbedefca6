"""The Odoo example's submission logic, run through psycopg2 without Odoo.

hacienda_submission is the part of examples/odoo that issues SQL; here it
sends to a recorder standing in for Hacienda's API and queues in its
MemoryQueue.  The addon itself needs Odoo, so its files are only parsed.
"""

import ast
import os
import sys
import time
import unittest
import xml.etree.ElementTree as ElementTree

import support

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
EXAMPLE = os.path.join(ROOT, "examples", "odoo")
ADDON = os.path.join(EXAMPLE, "l10n_cr_hacienda_ratelimit")
sys.path.insert(0, os.path.join(ROOT, "clients", "python"))
sys.path.insert(0, EXAMPLE)
import hacienda_submission as hs  # noqa: E402


def setUpModule():
    support.ensure_extension()


class HaciendaRecorder:
    """Hacienda's reception API, faked: records each invoice posted, in order."""

    def __init__(self):
        self.posted = []

    def __call__(self, invoice):
        self.posted.append(invoice)


class SubmissionTest(unittest.TestCase):

    def setUp(self):
        self.conn = support.connect()
        self.addCleanup(self.conn.close)
        self.cr = self.conn.cursor()
        self.hacienda = HaciendaRecorder()
        self.queue = hs.MemoryQueue()

    def configured_key(self, prefix, capacity, refill_rate):
        """A fresh key with limits of its own."""
        key = support.fresh_key(prefix)
        self.cr.execute("SELECT hacienda_configure(%s, %s, %s)", (key, capacity, refill_rate))
        return key

    def counters(self, key):
        st = support.status(self.conn, key)
        return st["total_requests"], st["rejected_requests"]

    def submit(self, invoice, key):
        return hs.submit_to_hacienda(self.cr, invoice, self.hacienda, self.queue, key)

    def test_refused_submission_is_queued_for_the_throttles_wait(self):
        """Sent while tokens last; then queued until the server's retry_after."""
        key = self.configured_key("ox-submit", 2, 0.01)

        sent = [self.submit(name, key) for name in ("FE-1", "FE-2")]
        refused = self.submit("FE-3", key)
        server_wait = support.status(self.conn, key)["retry_after"]
        now = time.time()

        self.assertEqual([s.sent for s in sent], [True, True])
        self.assertEqual(self.hacienda.posted, ["FE-1", "FE-2"])
        self.assertFalse(refused.sent)
        # One token at 0.01/s is about 100 s away: nothing like a fixed 120 s.
        self.assertAlmostEqual(refused.retry_after, server_wait, delta=0.5)
        self.assertAlmostEqual(self.queue.due_at("FE-3"), now + server_wait, delta=1.0)
        self.assertEqual(refused.due_at, self.queue.due_at("FE-3"))
        self.assertEqual(self.queue.due(now), [])
        self.assertEqual(self.counters(key), (2, 1))

    def test_batch_stops_at_the_first_refusal(self):
        """The cron sends 3 of 6 due invoices and puts the other 3 back, in order."""
        key = self.configured_key("ox-batch", 3, 0.01)
        invoices = ["FE-%d" % n for n in range(1, 7)]
        for invoice in invoices:
            self.queue.push(invoice, time.time() - 1)

        batch = hs.send_queued(self.cr, self.hacienda, self.queue, key)
        server_wait = support.status(self.conn, key)["retry_after"]

        self.assertEqual(self.hacienda.posted, invoices[:3])
        self.assertEqual(batch.sent, invoices[:3])
        self.assertEqual(batch.deferred, invoices[3:])
        self.assertAlmostEqual(batch.retry_after, server_wait, delta=0.5)
        self.assertEqual([self.queue.due_at(i) for i in invoices[3:]], [batch.due_at] * 3)
        self.assertEqual(self.queue.due(batch.due_at), invoices[3:])
        # One throttle call per invoice sent, one for the refusal, none for the rest.
        self.assertEqual(self.counters(key), (3, 1))

        # Before the deferred invoices are due, the cron touches no bucket.
        again = hs.send_queued(self.cr, self.hacienda, self.queue, key)
        self.assertEqual((again.sent, again.deferred), ([], []))
        self.assertEqual(self.counters(key), (3, 1))

    def test_queue_drains_as_tokens_refill(self):
        """Ten queued invoices all go out, in order, at the bucket's pace."""
        capacity, rate = 2, 20.0
        key = self.configured_key("ox-drain", capacity, rate)
        invoices = ["FE-%d" % n for n in range(1, 11)]
        for invoice in invoices:
            self.queue.push(invoice, time.time() - 1)

        started = time.monotonic()
        runs = refusals = 0
        deadline = started + 10.0
        while len(self.queue) and time.monotonic() < deadline:
            batch = hs.send_queued(self.cr, self.hacienda, self.queue, key)
            if not batch.sent and not batch.deferred:
                continue  # woke before anything was due: the cron did nothing
            runs += 1
            if batch.deferred:
                refusals += 1
                time.sleep(max(0.0, batch.due_at - time.time()))
        elapsed = time.monotonic() - started

        self.assertEqual(len(self.queue), 0, "invoices left after 10 s: %d" % len(self.queue))
        self.assertEqual(self.hacienda.posted, invoices)
        self.assertEqual(self.counters(key), (len(invoices), refusals))
        self.assertEqual(refusals, runs - 1)
        # Ten grants from a bucket of 2 at 20/s take at least 8 / 20 s.
        self.assertGreaterEqual(elapsed, (len(invoices) - capacity) / rate - 0.001)

    def test_submission_with_a_free_token_is_sent_at_once(self):
        """A submission with a token free is sent at once, queue or no queue."""
        key = self.configured_key("ox-free", 5, 0.01)
        self.queue.push("FE-old", time.time() + 60)

        outcome = self.submit("FE-new", key)

        self.assertEqual((outcome.sent, outcome.retry_after, outcome.due_at), (True, None, None))
        self.assertEqual(self.hacienda.posted, ["FE-new"])
        self.assertEqual(len(self.queue), 1)


class MemoryQueueTest(unittest.TestCase):

    def test_order_and_rescheduling(self):
        """Due first comes first; equals keep their first arrival order when moved."""
        queue = hs.MemoryQueue()
        queue.push("b", 20.0)
        queue.push("a", 10.0)
        queue.push("c", 20.0)

        self.assertEqual(queue.due(15.0), ["a"])
        self.assertEqual(queue.due(20.0), ["a", "b", "c"])
        queue.push("a", 30.0)
        queue.push("c", 30.0)
        queue.push("b", 30.0)
        self.assertEqual(queue.due(30.0), ["b", "a", "c"])
        queue.remove("a")
        self.assertEqual((queue.due(30.0), queue.next_due(), len(queue)), (["b", "c"], 30.0, 2))


class AddonFilesTest(unittest.TestCase):

    def addon_files(self, extension):
        found = []
        for folder, _, names in os.walk(ADDON):
            found += [os.path.join(folder, n) for n in names if n.endswith(extension)]
        return sorted(found)

    def test_python_files_compile(self):
        """Every Python file of the addon is valid Python."""
        files = self.addon_files(".py")
        self.assertGreaterEqual(len(files), 4)
        for path in files:
            with self.subTest(path=os.path.relpath(path, ADDON)), open(path) as source:
                compile(source.read(), path, "exec")

    def test_manifest_and_data(self):
        """The manifest is a literal dict whose data files exist and parse as XML."""
        with open(os.path.join(ADDON, "__manifest__.py")) as source:
            manifest = ast.literal_eval(source.read())

        self.assertIn("account", manifest["depends"])
        self.assertEqual(set(manifest["external_dependencies"]["python"]),
                         {"hacienda_ratelimit", "hacienda_submission"})
        for name in manifest["data"]:
            ElementTree.parse(os.path.join(ADDON, name))

    def test_model_calls_the_plain_module(self):
        """The model sends and queues through hacienda_submission, not SQL of its own."""
        with open(os.path.join(ADDON, "models", "account_move.py")) as source:
            tree = ast.parse(source.read())

        called = {node.func.attr for node in ast.walk(tree)
                  if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)}
        self.assertTrue({"submit_to_hacienda", "send_queued"} <= called)
        self.assertNotIn("execute", called)


if __name__ == "__main__":
    unittest.main()
