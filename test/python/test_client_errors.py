"""The Python client's exceptions: which SQLSTATE becomes which, and what they carry.

The SQLSTATEs this server can be made to raise (RL001, 22023, 22004, 42501)
are produced for real.  55000, 53200 and 25006 would need other servers (one
without the preload, a full table, a standby), so their mapping is checked
with driver-like errors raised by a cursor double, as are psycopg 3's errors.
"""

import os
import sys
import time
import unittest

import psycopg2

import support

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "clients", "python"))
import hacienda_ratelimit as hr  # noqa: E402


def setUpModule():
    support.ensure_extension()


class FakeDiag:
    """The diag attribute of a psycopg2 or psycopg error."""

    def __init__(self, primary, detail):
        self.message_primary = primary
        self.message_detail = detail


class Psycopg2LikeError(Exception):
    """An error shaped like psycopg2's: the SQLSTATE in pgcode."""

    def __init__(self, pgcode, primary="failed", detail=None):
        super().__init__("ERROR:  %s" % primary)
        self.pgcode = pgcode
        self.diag = FakeDiag(primary, detail)


class PsycopgLikeError(Exception):
    """An error shaped like psycopg 3's: the SQLSTATE in sqlstate."""

    def __init__(self, sqlstate, primary="failed", detail=None):
        super().__init__(primary)
        self.sqlstate = sqlstate
        self.diag = FakeDiag(primary, detail)


class FailingCursor:
    """A cursor whose every execute raises the error it was given."""

    def __init__(self, error):
        self.error = error

    def execute(self, query, params=None):
        raise self.error

    def fetchone(self):
        raise AssertionError("fetchone after a failed execute")


class MappingTest(unittest.TestCase):

    def raised_by(self, error, call=hr.try_acquire_token):
        """What the client raises when the driver raises error."""
        with self.assertRaises(Exception) as caught:
            call(FailingCursor(error))
        return caught.exception

    def test_each_sqlstate_maps_to_its_class(self):
        """Every SQLSTATE of the table gives its class, chained, with code and detail."""
        expected = {
            "RL001": hr.AcquireTimeout, "55000": hr.NotPreloaded,
            "53200": hr.BucketTableFull, "25006": hr.ReadOnlyServer,
            "42501": hr.PermissionDenied, "22023": hr.InvalidArgument,
            "22004": hr.InvalidArgument, "22021": hr.InvalidArgument,
        }
        for code, cls in expected.items():
            with self.subTest(code=code):
                error = Psycopg2LikeError(code, "primary of %s" % code, "Detail of %s." % code)

                raised = self.raised_by(error)

                self.assertIs(type(raised), cls)
                self.assertIsInstance(raised, hr.RateLimitError)
                self.assertIs(raised.__cause__, error)
                self.assertEqual((raised.pgcode, raised.sqlstate), (code, code))
                self.assertEqual(raised.detail, "Detail of %s." % code)
                self.assertEqual(str(raised), "primary of %s" % code)

    def test_timeout_detail_gives_retry_after(self):
        """RL001's DETAIL gives retry_after; without it, retry_after is None."""
        detail = "The next slot for the request is 12.345 seconds away."
        with_detail = self.raised_by(Psycopg2LikeError("RL001", detail=detail),
                                     lambda cr: hr.acquire_token(cr, 1))
        without = self.raised_by(Psycopg2LikeError("RL001", detail=None),
                                 lambda cr: hr.acquire_token(cr, 1))
        other_words = self.raised_by(Psycopg2LikeError("RL001", detail="Something else."))

        self.assertEqual(with_detail.retry_after, 12.345)
        self.assertIsNone(without.retry_after)
        self.assertIsNone(other_words.retry_after)

    def test_psycopg3_errors_are_mapped_by_sqlstate(self):
        """An error with sqlstate instead of pgcode maps the same way."""
        error = PsycopgLikeError("53200", "too many rate-limit buckets")

        raised = self.raised_by(error, hr.get_available_tokens)

        self.assertIs(type(raised), hr.BucketTableFull)
        self.assertIs(raised.__cause__, error)
        self.assertEqual(raised.pgcode, "53200")

    def test_other_errors_pass_untouched(self):
        """Unmapped SQLSTATEs and errors without one are re-raised as they are."""
        for error in (Psycopg2LikeError("40001"), PsycopgLikeError("57014"),
                      ValueError("not from the database"), Psycopg2LikeError(None)):
            with self.subTest(error=repr(error)):
                self.assertIs(self.raised_by(error, hr.reset), error)

    def test_map_error_on_its_own(self):
        """map_error returns an unraised, unchained exception, or None."""
        mapped = hr.map_error(Psycopg2LikeError("25006", "cannot acquire during recovery"))

        self.assertIsInstance(mapped, hr.ReadOnlyServer)
        self.assertIsNone(mapped.__cause__)
        self.assertIsNone(hr.map_error(Psycopg2LikeError("23505")))


class ServerErrorTest(unittest.TestCase):

    def setUp(self):
        self.conn = support.connect()
        self.addCleanup(self.conn.close)
        self.cr = self.conn.cursor()

    def assert_raises_code(self, cls, code, call, *args):
        """call(*args) raises cls carrying code, chained to psycopg2's error."""
        with self.assertRaises(cls) as caught:
            call(*args)
        raised = caught.exception
        self.assertEqual(raised.pgcode, code)
        self.assertIsInstance(raised.__cause__, psycopg2.Error)
        self.assertEqual(raised.__cause__.pgcode, code)
        return raised

    def test_invalid_arguments(self):
        """Zero tokens, an empty key, too many tokens and a NaN timeout give 22023."""
        key = support.fresh_key("ce-arg")
        cases = [(hr.try_acquire_token, self.cr, key, 0),
                 (hr.try_acquire_token, self.cr, ""),
                 (hr.throttle, self.cr, key, 21),
                 (hr.acquire_token, self.cr, float("nan"), key)]
        for call, *args in cases:
            with self.subTest(call=call.__name__, args=args[1:]):
                self.assert_raises_code(hr.InvalidArgument, "22023", call, *args)
        self.assertEqual(hr.get_available_tokens(self.cr, key)["total_requests"], 0)

    def test_null_arguments(self):
        """A null key or token count gives 22004."""
        self.assert_raises_code(hr.InvalidArgument, "22004", hr.try_acquire_token, self.cr, None)
        self.assert_raises_code(hr.InvalidArgument, "22004", hr.acquire_token,
                                self.cr, 1, "ce-null", None)

    def test_reset_without_privilege(self):
        """reset by a role without EXECUTE on hacienda_reset gives 42501."""
        role = support.fresh_key("ce_role").replace("-", "_")
        self.cr.execute('CREATE ROLE "%s" LOGIN' % role)
        self.addCleanup(self.cr.execute, 'DROP ROLE "%s"' % role)
        unprivileged = support.connect(user=role)
        try:
            raised = self.assert_raises_code(hr.PermissionDenied, "42501",
                                             hr.reset, unprivileged.cursor(), "ce-priv")
        finally:
            unprivileged.close()
        self.assertIn("hacienda_reset", str(raised))

    def test_timeout_carries_the_servers_retry_after(self):
        """RL001's retry_after matches the wait hacienda_status reports."""
        key = support.fresh_key("ce-timeout")
        self.cr.execute("SELECT hacienda_configure(%s, 1, 0.01)", (key,))
        self.assertTrue(hr.try_acquire_token(self.cr, key))

        started = time.monotonic()
        raised = self.assert_raises_code(hr.AcquireTimeout, "RL001",
                                         hr.acquire_token, self.cr, 2, key)
        failed_after = time.monotonic() - started
        server_wait = support.status(self.conn, key)["retry_after"]

        # One token at 0.01/s is about 100 s away; the DETAIL has milliseconds,
        # and the status is read a moment after the error.
        self.assertGreater(raised.retry_after, 90.0)
        self.assertAlmostEqual(raised.retry_after, server_wait, delta=0.5)
        self.assertLess(failed_after, 2.0, "a slot beyond the timeout must fail at once")
        self.assertIn("seconds away", raised.detail)

    def test_error_aborts_the_callers_transaction(self):
        """The client neither rolls back nor hides the abort; a savepoint keeps it going."""
        key = support.fresh_key("ce-tx")
        self.cr.execute("SELECT hacienda_configure(%s, 1, 0.001)", (key,))
        self.conn.autocommit = False
        self.addCleanup(self.conn.rollback)
        self.assertTrue(hr.try_acquire_token(self.cr, key))

        with self.assertRaises(hr.AcquireTimeout):
            hr.acquire_token(self.cr, 0, key)
        with self.assertRaises(psycopg2.errors.InFailedSqlTransaction):
            self.cr.execute("SELECT 1")
        self.conn.rollback()

        self.cr.execute("SAVEPOINT before_acquire")
        with self.assertRaises(hr.AcquireTimeout):
            hr.acquire_token(self.cr, 0, key)
        self.cr.execute("ROLLBACK TO SAVEPOINT before_acquire")
        self.cr.execute("SELECT 1")
        self.assertEqual(self.cr.fetchone(), (1,))


if __name__ == "__main__":
    unittest.main()
