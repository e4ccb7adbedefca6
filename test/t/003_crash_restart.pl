# 003_crash_restart.pl -- a backend dies with SIGKILL while it waits in
# hacienda_acquire().
#
# The postmaster then kills every backend, reinitializes shared memory and
# calls the extension's shared memory hooks again.  Proves that:
#   - a waiter sleeping in hacienda_acquire() shows up in pg_stat_activity
#     with wait_event_type 'Extension';
#   - after SIGKILL of that waiter the server performs one crash restart and
#     accepts connections again;
#   - the extension works afterwards: the bucket table is rebuilt, a bucket
#     is full again, grants exactly its capacity of 20 and refuses the 21st,
#     keeps no trace of the killed waiter, and status and reset work;
#   - the log shows exactly one crash (the kill) and no second one.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
# PostgreSQL::Test::Cluster turns restart_after_crash off; this test needs it.
# With 0.05 tokens per second one token takes 20 s: a wait fits in the 30 s
# timeout (so hacienda_acquire sleeps instead of refusing), and nothing
# refills noticeably while the test counts grants.
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'hacienda_ratelimit'
restart_after_crash = on
hacienda_ratelimit.refill_rate = 0.05
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION hacienda_ratelimit');

# Exhaust key 'k'.
is( $node->safe_psql(
		'postgres',
		q{SELECT count(*) FILTER (WHERE hacienda_try_acquire('k'))
		  FROM generate_series(1, 21)}),
	'20',
	'key k is exhausted after 20 grants');

# A background session that sleeps in hacienda_acquire(30, 'k').
my ($waiter_out, $waiter_err) = ('', '');
my $waiter = IPC::Run::start(
	[
		'psql', '-XAtq', '-d', $node->connstr('postgres'),
		'-c', q{SELECT hacienda_acquire(30, 'k')}
	],
	'<', \undef, '>', \$waiter_out, '2>', \$waiter_err,
	IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));

# It is asleep inside the extension: wait_event_type 'Extension', and the
# bucket counts one waiter.
ok( $node->poll_query_until(
		'postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity
		  WHERE wait_event_type = 'Extension'
		    AND query LIKE 'SELECT hacienda_acquire(30%'}),
	'the waiter sleeps with wait_event_type Extension');
my $pid = $node->safe_psql(
	'postgres',
	q{SELECT pid FROM pg_stat_activity
	  WHERE wait_event_type = 'Extension'
	    AND query LIKE 'SELECT hacienda_acquire(30%'});
like($pid, qr/^\d+$/, 'found the waiter pid');
is($node->safe_psql('postgres', q{SELECT waiting FROM hacienda_status('k')}),
	'1', 'hacienda_status counts the waiter');

my $log_offset = -s $node->logfile;

# Kill the waiter the hard way.
is(kill('KILL', $pid), 1, 'sent SIGKILL to the waiting backend');

# The postmaster notices, kills the rest and reinitializes; wait for each
# step in the log so that the poll below cannot see the old server.
$node->wait_for_log(qr/server process \(PID $pid\) was terminated by signal 9/,
	$log_offset);
$node->wait_for_log(qr/all server processes terminated; reinitializing/,
	$log_offset);
ok($node->poll_query_until('postgres', 'SELECT 1', '1'),
	'the server accepts connections again after the crash restart');

# The killed waiter's client saw its connection go.
$waiter->finish;
isnt($?, 0, 'the waiting psql failed');
like($waiter_err, qr/server closed the connection unexpectedly|connection to server/,
	'the waiting psql lost its connection');
is($waiter_out, '', 'the killed waiter was never granted');

# The bucket table was rebuilt from scratch: 'k' is full again, has no
# waiter left over, and grants exactly 20.
is( $node->safe_psql(
		'postgres',
		q{SELECT tokens, capacity, total_requests, waiting
		  FROM hacienda_status('k')}),
	'20|20|0|0',
	'after the restart key k is a fresh, full bucket with no waiter');
is( $node->safe_psql(
		'postgres',
		q{SELECT string_agg(hacienda_try_acquire('k')::text, ',' ORDER BY i)
		  FROM generate_series(1, 21) AS i}),
	join(',', ('true') x 20, 'false'),
	'the fresh bucket grants 20 and refuses the 21st');
is( $node->safe_psql(
		'postgres',
		q{SELECT tokens < 1, total_requests, rejected_requests, waiting
		  FROM hacienda_status('k')}),
	't|20|1|0',
	'hacienda_status works after the restart');

# hacienda_reset and hacienda_acquire work too.
$node->safe_psql('postgres', q{SELECT hacienda_reset('k')});
is($node->safe_psql('postgres', q{SELECT hacienda_acquire(1, 'k')}),
	't', 'after hacienda_reset, hacienda_acquire grants at once');

# Exactly one crash: the SIGKILL.  Nothing else died, before or after.
my $log = slurp_file($node->logfile, $log_offset);
my @deaths = $log =~ /(server process .* (?:terminated by signal|exited with exit code [1-9]).*)/g;
is(scalar(@deaths), 1, 'the log shows exactly one dead server process')
  or diag join("\n", @deaths);
my @restarts = $log =~ /(all server processes terminated; reinitializing)/g;
is(scalar(@restarts), 1, 'the log shows exactly one crash restart');
my @recoveries = $log =~ /(database system was not properly shut down)/g;
is(scalar(@recoveries), 1, 'the server recovered from one unclean stop only');
unlike($log, qr/PANIC/, 'no PANIC');

$node->stop;
done_testing();
