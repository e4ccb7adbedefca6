# 008_debug_messages.pl -- errors and chatty log levels never leave a
# backend stuck on the extension's LWLock.
#
# With log_min_messages = debug5 on the server and client_min_messages =
# debug5 in the sessions, nearly every step sends and logs a message, and
# none is filtered out: an error or message raised at a point where the
# extension held its table lock would really be sent and logged.  None may
# leave the lock held or a backend waiting on it.
# With hacienda_ratelimit.max_buckets = 4, proves that:
#   - in one session, the table-full error (53200) from
#     hacienda_try_acquire, hacienda_acquire, hacienda_configure and
#     hacienda_throttle, RL001, and invalid input to every function (NULL,
#     NaN, infinite, negative and oversized numbers, empty and 256-byte keys)
#     each raise the documented SQLSTATE, and a call on existing keys right
#     after each one succeeds, on the same backend;
#   - meanwhile, a second session with statement_timeout = 5s gets answers
#     at once from every function, from hacienda_buckets, and from a call on
#     a new key (which takes the table lock exclusively, to find the table
#     full), and no backend waits on the LWLock "hacienda_ratelimit";
#   - the same holds after the first session is cancelled with
#     pg_cancel_backend while it sleeps in hacienda_acquire, which gives its
#     reservation back;
#   - no backend crashed or hit a PANIC.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('debug_messages');
$node->init;
# A slow default refill keeps k1 .. k3, once used, from becoming idle.
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'hacienda_ratelimit'
hacienda_ratelimit.max_buckets = 4
hacienda_ratelimit.capacity = 1000
hacienda_ratelimit.refill_rate = 0.001
log_min_messages = debug5
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION hacienda_ratelimit');

# Fill the table: k1 .. k3 lose a token each, k4 gets limits of its own
# (5 tokens at 0.5 tokens/s) and is emptied.  A fifth key finds no room.
$node->safe_psql('postgres', q{SELECT hacienda_configure('k4', 5, 0.5)});
is( $node->safe_psql(
		'postgres', q{
		SELECT count(*) FILTER (WHERE hacienda_try_acquire(k))
		FROM unnest(ARRAY['k1', 'k2', 'k3']) AS k;
		SELECT hacienda_try_acquire('k4', 5);
		SELECT count(*), count(*) FILTER (WHERE configured) FROM hacienda_buckets;}),
	"3\nt\n4|1",
	'the table holds its 4 buckets, all in use');

# How many messages of a level psql printed; it prefixes them with
# "psql:<stdin>:LINE: " when reading a script from stdin.
sub messages
{
	my ($stderr, $level) = @_;
	my @found = $stderr =~ /^(?:psql:<stdin>:\d+: )?$level:  /mg;
	return scalar(@found);
}

# The session under test: debug5 to the client as well.
my $session = $node->background_psql('postgres', on_error_stop => 0);
# query() rather than query_safe(): DEBUG messages arrive on stderr.
$session->query('SET client_min_messages = debug5');
my $session_pid = $session->query('SELECT pg_backend_pid()');
like($session_pid, qr/^\d+$/, 'the session is connected');
$session->{stderr} = '';

# A call that needs every existing key to answer at once.
my $ok_call = q{SELECT 'ok=' || (hacienda_try_acquire('k1') AND hacienda_acquire(1, 'k2')
	AND (SELECT allowed FROM hacienda_throttle('k3'))
	AND (SELECT waiting = 0 FROM hacienda_status('k4')))};

my $long = 'x' x 256;
my @cases = (
	# A new key when no bucket is idle.
	[ 'full-try_acquire', q{SELECT hacienda_try_acquire('k5')},          '53200' ],
	[ 'full-acquire',     q{SELECT hacienda_acquire(1, 'k5')},           '53200' ],
	[ 'full-configure',   q{SELECT hacienda_configure('k5', 5, 1)},      '53200' ],
	[ 'full-throttle',    q{SELECT * FROM hacienda_throttle('k5')},      '53200' ],
	# A wait that cannot fit: k4 needs 10 s for 5 tokens.
	[ 'timeout-acquire',  q{SELECT hacienda_acquire(0.5, 'k4', 5)},      'RL001' ],

	# hacienda_try_acquire.  An oversized request is found under the table
	# lock and reported once it is released: against k4's own capacity of 5,
	# and against the default capacity of 1000, also for a key with no bucket
	# (which gets 22023, not 53200).
	[ 'try-null-key',     q{SELECT hacienda_try_acquire(NULL)},          '22004' ],
	[ 'try-null-tokens',  q{SELECT hacienda_try_acquire('k1', NULL)},    '22004' ],
	[ 'try-empty-key',    q{SELECT hacienda_try_acquire('')},            '22023' ],
	[ 'try-long-key',     qq{SELECT hacienda_try_acquire('$long')},      '22023' ],
	[ 'try-zero',         q{SELECT hacienda_try_acquire('k1', 0)},       '22023' ],
	[ 'try-negative',     q{SELECT hacienda_try_acquire('k1', -1)},      '22023' ],
	[ 'try-oversized',    q{SELECT hacienda_try_acquire('k1', 1001)},    '22023' ],
	[ 'try-over-own',     q{SELECT hacienda_try_acquire('k4', 6)},       '22023' ],
	[ 'try-over-new',     q{SELECT hacienda_try_acquire('k5', 1001)},    '22023' ],

	# hacienda_acquire.
	[ 'acq-null-timeout', q{SELECT hacienda_acquire(NULL, 'k1')},        '22004' ],
	[ 'acq-null-key',     q{SELECT hacienda_acquire(1, NULL)},           '22004' ],
	[ 'acq-null-tokens',  q{SELECT hacienda_acquire(1, 'k1', NULL)},     '22004' ],
	[ 'acq-nan',          q{SELECT hacienda_acquire('NaN', 'k1')},       '22023' ],
	[ 'acq-infinity',     q{SELECT hacienda_acquire('Infinity', 'k1')},  '22023' ],
	[ 'acq-negative',     q{SELECT hacienda_acquire(-1, 'k1')},          '22023' ],
	[ 'acq-huge-timeout', q{SELECT hacienda_acquire(1e9, 'k1')},         '22023' ],
	[ 'acq-empty-key',    q{SELECT hacienda_acquire(1, '')},             '22023' ],
	[ 'acq-long-key',     qq{SELECT hacienda_acquire(1, '$long')},       '22023' ],
	[ 'acq-zero',         q{SELECT hacienda_acquire(1, 'k1', 0)},        '22023' ],
	[ 'acq-negative-tok', q{SELECT hacienda_acquire(1, 'k1', -5)},       '22023' ],
	[ 'acq-oversized',    q{SELECT hacienda_acquire(1, 'k1', 1001)},     '22023' ],
	[ 'acq-over-own',     q{SELECT hacienda_acquire(1, 'k4', 6)},        '22023' ],

	# hacienda_status and hacienda_reset.
	[ 'status-null',      q{SELECT * FROM hacienda_status(NULL)},        '22004' ],
	[ 'status-empty',     q{SELECT * FROM hacienda_status('')},          '22023' ],
	[ 'status-long',      qq{SELECT * FROM hacienda_status('$long')},    '22023' ],
	[ 'reset-null',       q{SELECT hacienda_reset(NULL)},                '22004' ],
	[ 'reset-empty',      q{SELECT hacienda_reset('')},                  '22023' ],
	[ 'reset-long',       qq{SELECT hacienda_reset('$long')},            '22023' ],

	# hacienda_throttle.
	[ 'thr-null-key',     q{SELECT * FROM hacienda_throttle(NULL)},      '22004' ],
	[ 'thr-null-tokens',  q{SELECT * FROM hacienda_throttle('k1', NULL)}, '22004' ],
	[ 'thr-empty-key',    q{SELECT * FROM hacienda_throttle('')},        '22023' ],
	[ 'thr-long-key',     qq{SELECT * FROM hacienda_throttle('$long')},  '22023' ],
	[ 'thr-zero',         q{SELECT * FROM hacienda_throttle('k1', 0)},   '22023' ],
	[ 'thr-negative',     q{SELECT * FROM hacienda_throttle('k1', -1)},  '22023' ],
	[ 'thr-oversized',    q{SELECT * FROM hacienda_throttle('k1', 1001)}, '22023' ],
	[ 'thr-over-own',     q{SELECT * FROM hacienda_throttle('k4', 6)},   '22023' ],

	# hacienda_configure and hacienda_unconfigure, on an existing key.
	[ 'conf-null-key',    q{SELECT hacienda_configure(NULL, 5, 1)},      '22004' ],
	[ 'conf-null-cap',    q{SELECT hacienda_configure('k1', NULL, 1)},   '22004' ],
	[ 'conf-null-rate',   q{SELECT hacienda_configure('k1', 5, NULL)},   '22004' ],
	[ 'conf-empty-key',   q{SELECT hacienda_configure('', 5, 1)},        '22023' ],
	[ 'conf-long-key',    qq{SELECT hacienda_configure('$long', 5, 1)},  '22023' ],
	[ 'conf-zero-cap',    q{SELECT hacienda_configure('k1', 0, 1)},      '22023' ],
	[ 'conf-negative-cap', q{SELECT hacienda_configure('k1', -1, 1)},    '22023' ],
	[ 'conf-huge-cap',    q{SELECT hacienda_configure('k1', 1000001, 1)}, '22023' ],
	[ 'conf-nan-rate',    q{SELECT hacienda_configure('k1', 5, 'NaN')},  '22023' ],
	[ 'conf-inf-rate',    q{SELECT hacienda_configure('k1', 5, 'Infinity')}, '22023' ],
	[ 'conf-negative-rate', q{SELECT hacienda_configure('k1', 5, -1)},   '22023' ],
	[ 'conf-zero-rate',   q{SELECT hacienda_configure('k1', 5, 0)},      '22023' ],
	[ 'conf-huge-rate',   q{SELECT hacienda_configure('k1', 5, 1e7)},    '22023' ],
	[ 'unconf-null',      q{SELECT hacienda_unconfigure(NULL)},          '22004' ],
	[ 'unconf-empty',     q{SELECT hacienda_unconfigure('')},            '22023' ],
	[ 'unconf-long',      qq{SELECT hacienda_unconfigure('$long')},      '22023' ],);

# One script: each failing call, its SQLSTATE, and at once the call on the
# existing keys.  :SQLSTATE is that of the statement just before it.
my $script = '';
my $expected = '';
foreach my $case (@cases)
{
	my ($name, $sql, $sqlstate) = @$case;
	$script .= "$sql;\n\\echo 'case=$name' :SQLSTATE\n$ok_call;\n";
	$expected .= "case=$name $sqlstate\nok=true\n";
}
$script .= 'SELECT pg_backend_pid()';
$expected .= $session_pid;

my $started = time;
my $output = $session->query($script);
note(sprintf('%d failing calls at debug5 took %.3f s', scalar(@cases), time - $started));
is($output, $expected,
	'each error has its SQLSTATE and is followed by a successful call, on the same backend');
my $stderr = $session->{stderr};
is(messages($stderr, 'ERROR'), scalar(@cases), 'one ERROR per failing call');
cmp_ok(messages($stderr, 'DEBUG'), '>', scalar(@cases),
	'the session received DEBUG messages');
unlike($stderr, qr/FATAL|PANIC/, 'no FATAL or PANIC in the session');
$session->{stderr} = '';

# Another session, and nothing waits on the extension's LWLock.  The calls
# on existing keys take the table lock shared, the one on a new key
# exclusively (to find the table full).  An LWLock wait ignores
# statement_timeout, so the psql itself has a timeout too.
sub check_other_session
{
	my ($when) = @_;
	my $timed_out;
	my $started = time;
	my ($ret, $stdout, $stderr) = $node->psql(
		'postgres', q{
SET statement_timeout = '5s';
SET client_min_messages = debug5;
SELECT 'try=' || hacienda_try_acquire('k1');
SELECT 'acquire=' || hacienda_acquire(1, 'k2');
SELECT 'throttle=' || allowed FROM hacienda_throttle('k3');
SELECT 'status=' || waiting FROM hacienda_status('k4');
SELECT 'reset=' || hacienda_try_acquire('k3') FROM hacienda_reset('k3');
SELECT 'buckets=' || count(*) FROM hacienda_buckets;
SELECT hacienda_try_acquire('k5');
\echo 'new key:' :SQLSTATE
SELECT 'lwlock=' || count(*) FROM pg_stat_activity
	WHERE wait_event_type = 'LWLock' AND wait_event = 'hacienda_ratelimit';},
		on_error_stop => 0,
		timeout => 20,
		timed_out => \$timed_out);
	my $elapsed = time - $started;

	ok(!$timed_out, "$when: a second session is not stuck");
	is($ret, 0, "$when: its psql finishes normally");
	is( $stdout,
		"try=true\nacquire=true\nthrottle=true\nstatus=0\nreset=true\nbuckets=4\n"
		  . "new key: 53200\nlwlock=0",
		"$when: every function and hacienda_buckets answer; nothing waits on the LWLock");
	is(messages($stderr, 'ERROR'), 1, "$when: no error but the full table's");
	unlike($stderr, qr/57014|canceling statement/, "$when: no statement timed out");
	cmp_ok($elapsed, '<', 5, "$when: the answers came at once");
	is( $node->safe_psql(
			'postgres',
			qq{SELECT state, wait_event FROM pg_stat_activity WHERE pid = $session_pid}),
		'idle|ClientRead',
		"$when: the first session is idle, holding nothing");
	return;
}

check_other_session('after the errors');

# --- a cancel while asleep in hacienda_acquire.  k4 is emptied again; 5
# tokens are then 10 s away.
is( $session->query(
		q{SELECT 'emptied=' || hacienda_try_acquire('k4', 5) FROM hacienda_reset('k4')}),
	'emptied=true', 'k4 is emptied');
$session->{stderr} = '';
$session->query_until(qr/waiting\n/,
	"\\echo waiting\nSELECT 'acquired=' || hacienda_acquire(60, 'k4', 5);\n");
ok( $node->poll_query_until(
		'postgres',
		qq{SELECT wait_event_type = 'Extension' FROM pg_stat_activity
		   WHERE pid = $session_pid}),
	'the session sleeps in hacienda_acquire');
is($node->safe_psql('postgres', q{SELECT waiting FROM hacienda_status('k4')}),
	'1', 'k4 counts the waiter');

my $cancelled = time;
is($node->safe_psql('postgres', "SELECT pg_cancel_backend($session_pid)"),
	't', 'pg_cancel_backend is sent');
$output = $session->query(q{\echo 'cancel=' :SQLSTATE});
my $cancel_took = time - $cancelled;
is($output, 'cancel= 57014', 'the wait ends with SQLSTATE 57014, not a grant');
cmp_ok($cancel_took, '<', 3, 'at once, not at the slot 10 s away');
like($session->{stderr}, qr/ERROR:  canceling statement due to user request$/m,
	'the session reports the cancel');
cmp_ok(messages($session->{stderr}, 'DEBUG'), '>', 0, 'with DEBUG messages around it');
unlike($session->{stderr}, qr/FATAL|PANIC/, 'no FATAL or PANIC');
$session->{stderr} = '';

# The reservation went back: the next token is due within 2 s (one token at
# 0.5 tokens/s from empty), not in 12 s behind the 5 tokens reserved.
is( $node->safe_psql(
		'postgres', q{SELECT waiting, retry_after <= 2 FROM hacienda_status('k4')}),
	'0|t', 'k4 counts no waiter and its 5 reserved tokens are back');
is($session->query("$ok_call;\nSELECT pg_backend_pid()"),
	"ok=true\n$session_pid", 'the cancelled session answers at once, on the same backend');

check_other_session('after the cancel');

$session->quit;
my $log = slurp_file($node->logfile);
like($log, qr/DEBUG:  /, 'the server logged at DEBUG levels');
unlike($log, qr/PANIC|terminated by signal|stuck spinlock/, 'no backend crashed');

$node->stop;
done_testing();
