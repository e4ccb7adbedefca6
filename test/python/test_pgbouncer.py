"""hacienda_ratelimit behind a real pgbouncer in transaction-pooling mode.

In transaction pooling a server backend serves one client for one
transaction and then the next client, so anything the extension left
behind in a backend after a call (a held lock, a reservation, a waiter
count) would be met by a stranger.  This test puts Debian's pgbouncer in
front of the test server, sends 30 clients through it, SIGKILLs some of them
mid-call, and then looks at the server directly.

The test starts its own pgbouncer: a configuration, pid file, log and Unix
socket in a temporary directory, listening on no TCP address, on port
HR_PGBOUNCER_PORT (default 6499; it only names the socket).  A system
pgbouncer service on port 6432 is neither used nor disturbed.  pgbouncer
refuses to run as root, so as root it runs as "postgres", like the server
in scripts/lib.sh.

Run with /usr/bin/python3 against the server scripts/test starts.
"""

import os
import pwd
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import psycopg2

import support
from support import RATE_LIMIT_TIMEOUT, connect, fresh_key, poll_until, scalar, status

CAPACITY = int(support.DEFAULTS["capacity"])
RATE = support.DEFAULTS["refill_rate"]
SLOT = 1.0 / RATE  # seconds between two single-token grants

PORT = int(os.environ.get("HR_PGBOUNCER_PORT", "6499"))
# Fewer server connections than clients: backends pass from client to client.
POOL_SIZE = 12

SURVIVORS = 22         # client threads that run to the end
SLEEPERS = 4           # subprocesses killed while asleep in hacienda_acquire
BYSTANDERS = 4         # subprocesses killed at a random instant of their mix
LOAD_SECONDS = 3.0

# The longest timeout any client passes to hacienda_acquire.  A server
# backend whose client is gone cannot run a call for longer than this.
LONGEST_TIMEOUT = 1.5
SLEEPER_TOKENS = 4     # 0.4 s of refill: under the load, a sleeper has to wait

# A client that is killed from outside.  It prints "ready" once connected
# and starts when a line arrives on its stdin; from then on it prints one line
# per answer it has received: "granted KEY", "refused KEY", "answered KEY"
# for a status, "error SQLSTATE message" for anything else.
# A sleeper only calls hacienda_acquire, tagged so that pg_stat_activity
# shows which backend runs its call; a bystander mixes all three calls.
VICTIM_CLIENT = """
import random
import sys
import time
import psycopg2

mode, tag, seed, timeout, tokens = sys.argv[1:6]
keys = sys.argv[6:]
rng = random.Random(int(seed))
conn = psycopg2.connect()
conn.autocommit = True
cur = conn.cursor()
cur.execute("SELECT 1")
print("ready", flush=True)
sys.stdin.readline()
while True:
    key = rng.choice(keys)
    pick = rng.random() if mode == "bystander" else 0.0
    try:
        if pick < 0.4:
            cur.execute("SELECT hacienda_acquire(%s, %s, %s) /* " + tag + " */",
                        (float(timeout), key, int(tokens)))
            print("granted", key, flush=True)
        elif pick < 0.8:
            cur.execute("SELECT hacienda_try_acquire(%s, 1)", (key,))
            print("granted" if cur.fetchone()[0] else "refused", key, flush=True)
        else:
            cur.execute("SELECT waiting FROM hacienda_status(%s)", (key,))
            cur.fetchone()
            print("answered", key, flush=True)
    except psycopg2.Error as exc:
        if exc.pgcode == "RL001":
            print("refused", key, flush=True)
        else:
            print("error", exc.pgcode, str(exc).strip().replace(chr(10), " "), flush=True)
    time.sleep(rng.uniform(0.0, 0.02))
"""

bouncer = None


class Bouncer:
    """A pgbouncer of the test's own, in front of the server support.connect() reaches."""

    def __init__(self, binary):
        self.binary = binary
        self.port = PORT
        self.dir = tempfile.mkdtemp(prefix="hr_pgbouncer.")
        self.as_root = os.geteuid() == 0
        self.process = None
        self.stderr = None

    def path(self, name):
        return os.path.join(self.dir, name)

    def start(self):
        """Write the configuration, start pgbouncer, and return once it answers."""
        conn = connect()
        try:
            info = conn.info
            host, server_port, dbname, user = info.host, info.port, info.dbname, info.user
        finally:
            conn.close()
        self.dbname, self.user = dbname, user

        with open(self.path("users.txt"), "w") as users:
            users.write('"%s" ""\n' % user)
        with open(self.path("pgbouncer.ini"), "w") as ini:
            ini.write("\n".join([
                "[databases]",
                "%s = host=%s port=%s dbname=%s" % (dbname, host, server_port, dbname),
                "",
                "[pgbouncer]",
                "listen_addr =",
                "listen_port = %d" % self.port,
                "unix_socket_dir = %s" % self.dir,
                "pool_mode = transaction",
                "default_pool_size = %d" % POOL_SIZE,
                "max_client_conn = 100",
                # The server trusts local connections; so does this pgbouncer.
                "auth_type = trust",
                "auth_file = %s" % self.path("users.txt"),
                "logfile = %s" % self.path("pgbouncer.log"),
                "pidfile = %s" % self.path("pgbouncer.pid"),
                # A client stuck in pgbouncer's queue fails instead of hanging.
                "query_wait_timeout = 20",
                "",
            ]))

        command = [self.binary, self.path("pgbouncer.ini")]
        if self.as_root:
            os.chmod(self.dir, 0o755)
            postgres = pwd.getpwnam("postgres")
            for name in (self.dir, self.path("users.txt"), self.path("pgbouncer.ini")):
                os.chown(name, postgres.pw_uid, postgres.pw_gid)
            command = ["runuser", "-u", "postgres", "--"] + command
        self.stderr = open(self.path("stderr.txt"), "w+")
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                        stdout=self.stderr, stderr=self.stderr)

        def answers():
            if self.process.poll() is not None:
                return "exited"
            try:
                probe = self.connect()
            except psycopg2.OperationalError:
                return None
            try:
                return "up" if scalar(probe, "SELECT 1") == 1 else None
            finally:
                probe.close()

        state = poll_until(answers, 10.0, 0.05)
        if state != "up":
            raise AssertionError("pgbouncer (%s) did not start: %s\n%s" % (
                " ".join(command), state or "no answer after 10 s", self.output()))

    def connect(self, **kwargs):
        """An autocommit connection through pgbouncer."""
        return connect(host=self.dir, port=self.port, dbname=self.dbname, user=self.user,
                       **kwargs)

    def client_env(self):
        """The environment of a subprocess that libpq should point at pgbouncer."""
        env = dict(os.environ)
        env.update(PGHOST=self.dir, PGPORT=str(self.port), PGDATABASE=self.dbname,
                   PGUSER=self.user)
        return env

    def log(self):
        try:
            with open(self.path("pgbouncer.log"), errors="replace") as log:
                return log.read()
        except FileNotFoundError:
            return ""

    def closed_clients(self, pids):
        """How pgbouncer says each client process in pids left: "eof", "close request"."""
        wanted = set(pids)
        seen = {}
        for pid, reason in re.findall(r"C-\S+ \S+@unix\((\d+)\):\d+ closing because: "
                                      r"(.*) \(age=", self.log()):
            if int(pid) in wanted:
                seen[int(pid)] = "eof" if reason.endswith("unexpected eof") else reason
        return seen

    def output(self):
        self.stderr.seek(0)
        return self.stderr.read() + self.log()[-3000:]

    def stop(self):
        """SIGTERM to pgbouncer itself (not to runuser), then wait for it."""
        if self.process is not None and self.process.poll() is None:
            try:
                with open(self.path("pgbouncer.pid")) as pidfile:
                    os.kill(int(pidfile.read().strip()), signal.SIGTERM)
            except (OSError, ValueError):
                self.process.terminate()
            try:
                self.process.wait(10.0)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.stderr is not None:
            self.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def find_pgbouncer():
    path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin" + os.pathsep + "/sbin"
    binary = shutil.which("pgbouncer", path=path)
    if binary is None:
        raise AssertionError("pgbouncer is not installed: these tests need Debian's "
                             "pgbouncer package (apt-get install pgbouncer)")
    return binary


def setUpModule():
    global bouncer
    support.ensure_extension()
    support.require_default_limits()
    bouncer = Bouncer(find_pgbouncer())
    try:
        bouncer.start()
    except BaseException:
        bouncer.stop()
        raise


def tearDownModule():
    if bouncer is not None:
        bouncer.stop()


class Tally:
    """Answers counted by the clients, per key; safe to add to from many threads."""

    def __init__(self, keys):
        self.lock = threading.Lock()
        self.granted = dict.fromkeys(keys, 0)
        self.refused = dict.fromkeys(keys, 0)
        self.slept = 0  # grants of hacienda_acquire that came after a sleep
        self.errors = []

    def add(self, what, key):
        with self.lock:
            if what == "granted":
                self.granted[key] += 1
            elif what == "refused":
                self.refused[key] += 1
            elif what == "slept":
                self.slept += 1

    def error(self, text):
        with self.lock:
            self.errors.append(text)


class Victim:
    """A client in a subprocess of its own, so that SIGKILL really drops its socket."""

    def __init__(self, mode, number, keys, seed, timeout, tokens):
        self.mode = mode
        self.tag = "hr-victim-%s-%d-%d" % (mode, number, seed)
        self.kill_at = None
        self.server_pid = None  # the backend seen running its call when killed
        self.lines = []
        self.process = subprocess.Popen(
            [sys.executable, "-c", VICTIM_CLIENT, mode, self.tag, str(seed + number),
             str(timeout), str(tokens)] + list(keys),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=bouncer.client_env(), universal_newlines=True)

    def wait_ready(self):
        """Wait for the client to connect.

        It prints nothing more until go(), so this read cannot take in (and
        lose to the buffer) any of the answers that kill() collects.
        """
        line = self.process.stdout.readline().strip()
        if line != "ready":
            self.process.kill()
            raise AssertionError("victim %s did not connect through pgbouncer: %r %s"
                                 % (self.tag, line, self.process.stderr.read()))

    def go(self):
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def kill(self):
        """SIGKILL; then collect what the client printed before it died."""
        self.process.kill()
        out, _ = self.process.communicate(timeout=10.0)
        self.lines = out.splitlines()

    def alive(self):
        return self.process.poll() is None


class PgbouncerTest(unittest.TestCase):

    def setUp(self):
        self.admin = connect()
        self.addCleanup(self.admin.close)
        self.admin_pid = self.admin.get_backend_pid()
        self.since = scalar(self.admin, "SELECT now()")
        self.seed = random.SystemRandom().randrange(1, 1 << 30)

    def client_backends(self, where="true"):
        """Server backends opened since the test began (pgbouncer's), with a condition."""
        with self.admin.cursor() as cur:
            cur.execute("SELECT pid, state, wait_event_type, wait_event, left(query, 80) "
                        "FROM pg_stat_activity WHERE backend_type = 'client backend' "
                        "AND pid <> pg_backend_pid() AND backend_start >= %s AND " + where,
                        (self.since,))
            return cur.fetchall()

    def waiting_anywhere(self):
        """Backends asleep in an extension or waiting on the extension's LWLock."""
        with self.admin.cursor() as cur:
            cur.execute("SELECT pid, wait_event_type, wait_event, left(query, 80) "
                        "FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                        "AND (wait_event_type = 'Extension' OR (wait_event_type = 'LWLock' "
                        "AND wait_event = 'hacienda_ratelimit'))")
            return cur.fetchall()

    def sleeping_backend(self, tag):
        with self.admin.cursor() as cur:
            cur.execute("SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Extension' "
                        "AND strpos(query, %s) > 0", (tag,))
            row = cur.fetchone()
            return row[0] if row else None

    def survivor(self, number, keys, tally, stop_at):
        """One client thread: a random mix of calls until stop_at, each answer counted."""
        rng = random.Random(self.seed * 100 + number)
        try:
            conn = bouncer.connect()
        except psycopg2.Error as exc:
            tally.error("client %d could not connect: %s" % (number, exc))
            return
        try:
            with conn.cursor() as cur:
                while time.monotonic() < stop_at and not conn.closed:
                    key = rng.choice(keys)
                    pick = rng.random()
                    try:
                        if pick < 0.4:
                            cur.execute("SELECT hacienda_try_acquire(%s, %s)",
                                        (key, rng.randint(1, 3)))
                            tally.add("granted" if cur.fetchone()[0] else "refused", key)
                        elif pick < 0.8:
                            timeout = rng.choice((0.1, 0.2, 0.4))
                            sent = time.monotonic()
                            cur.execute("SELECT hacienda_acquire(%s, %s, %s)",
                                        (timeout, key, rng.randint(1, 2)))
                            if cur.fetchone()[0] is not True:
                                tally.error("hacienda_acquire returned false")
                            tally.add("granted", key)
                            if time.monotonic() - sent >= SLOT / 2:
                                tally.add("slept", key)
                        else:
                            cur.execute("SELECT waiting, tokens <= capacity "
                                        "FROM hacienda_status(%s)", (key,))
                            waiting, bounded = cur.fetchone()
                            if waiting < 0 or not bounded:
                                tally.error("status of %s: waiting %d, tokens within "
                                            "capacity: %s" % (key, waiting, bounded))
                    except psycopg2.Error as exc:
                        if exc.pgcode == RATE_LIMIT_TIMEOUT:
                            tally.add("refused", key)
                        else:
                            tally.error("client %d: %s %s" % (number, exc.pgcode, exc))
                    time.sleep(rng.uniform(0.0, 0.02))
        except BaseException as exc:  # a failure of the client itself is an error too
            tally.error("client %d: %r" % (number, exc))
        finally:
            conn.close()

    def run_load(self, keys):
        """30 clients for LOAD_SECONDS; the victims among them are SIGKILLed mid-call.

        Returns (tally of the survivors' answers, the victims, the largest
        number of pgbouncer's server backends seen at once).
        """
        victims = [Victim("sleeper", i, keys, self.seed, LONGEST_TIMEOUT, SLEEPER_TOKENS)
                   for i in range(SLEEPERS)]
        victims += [Victim("bystander", i, keys, self.seed, 0.3, 1) for i in range(BYSTANDERS)]
        try:
            for victim in victims:
                victim.wait_ready()
            tally = Tally(keys)
            started = time.monotonic()
            stop_at = started + LOAD_SECONDS
            threads = [threading.Thread(target=self.survivor,
                                        args=(i, keys, tally, stop_at), daemon=True)
                       for i in range(SURVIVORS)]
            for thread in threads:
                thread.start()
            for victim in victims:
                victim.go()

            # Sleepers may be killed one after the other from 0.5 s on, each
            # once it is seen asleep; bystanders at a random instant.
            rng = random.Random(self.seed)
            for i, victim in enumerate(victims):
                if victim.mode == "sleeper":
                    victim.kill_at = started + 0.5 + 0.5 * i
                else:
                    victim.kill_at = started + rng.uniform(0.3, LOAD_SECONDS - 0.3)
            most_backends = 0
            while any(v.alive() for v in victims) and time.monotonic() < stop_at + 3.0:
                most_backends = max(most_backends, len(self.client_backends()))
                now = time.monotonic()
                for victim in victims:
                    if not victim.alive() or now < victim.kill_at:
                        continue
                    if victim.mode == "sleeper":
                        victim.server_pid = self.sleeping_backend(victim.tag)
                        if victim.server_pid is None:
                            continue
                    victim.kill()
                time.sleep(0.005)

            for thread in threads:
                thread.join(max(0.0, stop_at + 5.0 - time.monotonic()))
            self.assertEqual([t.name for t in threads if t.is_alive()], [],
                             "client threads still running 5 s after the load ended")
        finally:
            for victim in victims:
                if victim.alive():
                    victim.kill()
        return tally, victims, most_backends

    def test_killed_clients_leave_no_state_or_lock(self):
        """30 clients through pgbouncer, 8 SIGKILLed mid-call: no state or lock outlives a call.

        Afterwards no backend sleeps in the extension or waits on its LWLock,
        every pgbouncer backend is idle, no bucket counts a waiter, each
        bucket's grants equal those the clients counted plus at most one per
        killed call, survivors saw no error but RL001, and new clients through
        pgbouncer get answers at once from buckets whose arithmetic is intact.
        """
        keys = [fresh_key("pgb-a"), fresh_key("pgb-b")]
        tally, victims, most_backends = self.run_load(keys)
        context = "seed %d" % self.seed

        # Each victim was killed, each sleeper while its backend slept in
        # hacienda_acquire, and none saw an error of its own but RL001.
        self.assertEqual([v.process.returncode for v in victims],
                         [-signal.SIGKILL] * len(victims), context)
        self.assertEqual([v.tag for v in victims if v.mode == "sleeper" and not v.server_pid],
                         [], "sleepers never seen asleep in hacienda_acquire (%s)" % context)
        self.assertEqual([line for v in victims for line in v.lines
                          if line.startswith("error")], [], context)

        # The load really went through a pool: 30 clients on at most POOL_SIZE
        # backends.  Survivors were refused often, and some of their waits in
        # hacienda_acquire ended in a grant.
        self.assertLessEqual(most_backends, POOL_SIZE, context)
        self.assertGreater(sum(tally.refused.values()), 0, context)
        self.assertGreater(tally.slept, 0, "no survivor was granted after a wait (%s)" % context)

        # Only the server connection of a killed client is closed by pgbouncer
        # ("client disconnect while server was not ready"); no other client is
        # ever linked to it, so a survivor has no reason to see any error but
        # RL001: not a lost connection, not a cancel, not a pgbouncer error.
        self.assertEqual(tally.errors, [], context)
        # pgbouncer saw each killed client's socket end without a goodbye.
        self.assertEqual(bouncer.closed_clients(v.process.pid for v in victims),
                         {v.process.pid: "eof" for v in victims},
                         "pgbouncer log:\n" + bouncer.log()[-3000:])

        # A killed client's backend runs its call no longer than the call's
        # timeout (pgbouncer closes it at once, which ends the wait even
        # sooner); after that grace, nothing waits and every backend is idle.
        left = poll_until(lambda: not self.waiting_anywhere(), LONGEST_TIMEOUT + 1.0)
        self.assertTrue(left, "still waiting after %.1f s: %r"
                        % (LONGEST_TIMEOUT + 1.0, self.waiting_anywhere()))
        for _ in range(3):
            self.assertEqual(self.waiting_anywhere(), [])
            self.assertEqual(self.client_backends("state <> 'idle'"), [],
                             "pgbouncer backends not idle")
            time.sleep(0.1)

        # The buckets: nobody counted as waiting, and the grants and refusals
        # are exactly those counted, give or take the calls cut short.
        killed = len(victims)
        for victim in victims:
            for line in victim.lines:
                what, _, key = line.partition(" ")
                tally.add(what, key)
        for key in keys:
            st = status(self.admin, key)
            granted, refused = tally.granted[key], tally.refused[key]
            self.assertEqual(st["waiting"], 0, "%s: %r" % (key, st))
            self.assertTrue(granted <= st["total_requests"] <= granted + killed,
                            "%s: total_requests %d, clients counted %d grants, %d calls "
                            "killed (%s)" % (key, st["total_requests"], granted, killed,
                                             context))
            self.assertGreaterEqual(st["rejected_requests"], refused, key)
            self.assertLessEqual(st["total_requests"] + st["rejected_requests"],
                                 granted + refused + killed,
                                 "%s: %r; counted %d grants, %d refusals"
                                 % (key, st, granted, refused))

        # New clients through pgbouncer are answered at once, and each bucket,
        # refilled, grants exactly its capacity out of capacity + 5 calls.
        for key in keys:
            started = time.monotonic()
            conn = bouncer.connect()
            try:
                scalar(conn, "SELECT hacienda_reset(%s)", (key,))
                self.assertLess(time.monotonic() - started, 1.0, "connect and reset")
                before = status(conn, key)
                send, recv, grants, last_refused = support.count_grants(conn, key,
                                                                        CAPACITY + 5)
                self.assertLess(recv - send, 1.0 / RATE, "too slow to count exactly")
                self.assertEqual((grants, last_refused), (CAPACITY, True), key)
                after = status(conn, key)
                self.assertEqual(
                    (after["total_requests"] - before["total_requests"],
                     after["rejected_requests"] - before["rejected_requests"],
                     after["waiting"]),
                    (CAPACITY, 5, 0), key)

                # And a wait through pgbouncer ends on its slot, one token later.
                started = time.monotonic()
                self.assertIs(scalar(conn, "SELECT hacienda_acquire(1, %s)", (key,)), True)
                self.assertLess(time.monotonic() - started, 0.5, "acquire on an empty key")
                self.assertEqual(status(conn, key)["waiting"], 0)
            finally:
                conn.close()

        # No backend crashed: a crash would have ended this session too.  The
        # server log, when scripts/test names it, must agree.
        self.assertEqual(scalar(self.admin, "SELECT pg_backend_pid()"), self.admin_pid)
        text = support.server_log_text()
        if text is not None:
            self.assertNotIn("terminated by signal", text)
            self.assertNotIn("PANIC", text)


if __name__ == "__main__":
    unittest.main()
