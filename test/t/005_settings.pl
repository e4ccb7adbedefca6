# 005_settings.pl -- the hacienda_ratelimit.* configuration parameters.
#
# Proves that:
#   - capacity and refill_rate are 'sighup' parameters: after a change in
#     postgresql.conf or by ALTER SYSTEM and a reload, a new session sees
#     the new limits both in hacienda_status() and in what it is granted;
#   - max_buckets is a 'postmaster' parameter: a reload leaves it pending,
#     a restart applies it, and it really sizes the shared table: with
#     max_buckets = 5, five distinct keys work and a sixth raises SQLSTATE
#     53200 with a HINT naming "hacienda_ratelimit.max_buckets", while the
#     session stays usable and the existing keys keep working;
#   - the prefix "hacienda_ratelimit" is reserved: an unknown parameter under
#     it cannot be set, while other custom prefixes still can.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('settings');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'hacienda_ratelimit'");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION hacienda_ratelimit');

# The contexts the documentation promises.
is( $node->safe_psql(
		'postgres',
		q{SELECT string_agg(name || '=' || context, ',' ORDER BY name)
		  FROM pg_settings WHERE name LIKE 'hacienda\_ratelimit.%'}),
	'hacienda_ratelimit.capacity=sighup,hacienda_ratelimit.max_buckets=postmaster,'
	  . 'hacienda_ratelimit.refill_rate=sighup',
	'capacity and refill_rate are sighup, max_buckets is postmaster');

# Defaults.
is( $node->safe_psql(
		'postgres', q{SELECT capacity, refill_rate FROM hacienda_status('a')}),
	'20|10', 'default limits: capacity 20, refill_rate 10');

# --- capacity and refill_rate through postgresql.conf and a reload.
# One token per 1000 s, so that the grants counted below are exact.
$node->append_conf('postgresql.conf', q{
hacienda_ratelimit.capacity = 5
hacienda_ratelimit.refill_rate = 0.001
});
$node->reload;
# Each poll is a new session; it sees the new values once the postmaster has
# processed the SIGHUP.
ok( $node->poll_query_until(
		'postgres',
		q{SELECT capacity = 5 AND refill_rate = 0.001 FROM hacienda_status('b')}),
	'after editing postgresql.conf and reloading, hacienda_status shows 5 and 0.001');
is( $node->safe_psql(
		'postgres',
		q{SELECT string_agg(hacienda_try_acquire('b')::text, ',' ORDER BY i)
		  FROM generate_series(1, 6) AS i}),
	'true,true,true,true,true,false',
	'a new bucket grants the new capacity of 5 and refuses the 6th');
is( $node->safe_psql(
		'postgres',
		q{SELECT tokens < 1, capacity, total_requests, rejected_requests
		  FROM hacienda_status('b')}),
	't|5|5|1',
	'hacienda_status agrees');

# --- the same through ALTER SYSTEM and pg_reload_conf().
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET hacienda_ratelimit.capacity = 3;
	SELECT pg_reload_conf();
});
ok( $node->poll_query_until(
		'postgres', q{SELECT capacity = 3 FROM hacienda_status('c')}),
	'after ALTER SYSTEM and a reload, hacienda_status shows capacity 3');
is( $node->safe_psql(
		'postgres',
		q{SELECT string_agg(hacienda_try_acquire('c')::text, ',' ORDER BY i)
		  FROM generate_series(1, 4) AS i}),
	'true,true,true,false',
	'a new bucket grants the new capacity of 3 and refuses the 4th');

# A faster refill_rate reaches existing buckets.  'c' is empty; under the
# old rate (one token per 1000 s) it would stay empty for many minutes.
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET hacienda_ratelimit.refill_rate = 20;
	SELECT pg_reload_conf();
});
ok( $node->poll_query_until(
		'postgres', q{SELECT refill_rate = 20 FROM hacienda_status('c')}),
	'after a reload, hacienda_status shows refill_rate 20');
# The bucket first sees the new rate now; 3 tokens at 20 per second take
# 0.15 s, and then the level stays capped at the capacity.
is($node->safe_psql('postgres', q{SELECT hacienda_try_acquire('c')}),
	'f', 'the empty bucket has not refilled under the old rate');
ok( $node->poll_query_until(
		'postgres', q{SELECT tokens = 3 FROM hacienda_status('c')}),
	'the empty bucket refills to capacity under the new rate');
is( $node->safe_psql(
		'postgres',
		q{SELECT count(*) FILTER (WHERE hacienda_try_acquire('c'))
		  FROM generate_series(1, 3)}),
	'3', 'and grants its 3 tokens again');

# --- max_buckets needs a restart.
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET hacienda_ratelimit.max_buckets = 5;
	ALTER SYSTEM SET hacienda_ratelimit.refill_rate = 0.001;
	SELECT pg_reload_conf();
});
ok( $node->poll_query_until(
		'postgres',
		q{SELECT pending_restart FROM pg_settings
		  WHERE name = 'hacienda_ratelimit.max_buckets'}),
	'a reload leaves max_buckets pending a restart');
is($node->safe_psql('postgres', 'SHOW hacienda_ratelimit.max_buckets'),
	'1000', 'a reload does not change max_buckets');
ok($node->log_contains(
		qr/parameter "hacienda_ratelimit.max_buckets" cannot be changed without restarting/),
	'the log says max_buckets needs a restart');

$node->restart;
is($node->safe_psql('postgres', 'SHOW hacienda_ratelimit.max_buckets'),
	'5', 'after a restart max_buckets is 5');

# The table was rebuilt with room for exactly 5 keys.  Each key spends 2 of
# its 3 tokens, and at 0.001 tokens/s none refills: a bucket that is not full
# is in use and cannot be evicted.  hacienda_status creates no bucket, so
# looking at a sixth key first changes nothing.
is( $node->safe_psql(
		'postgres',
		q{SELECT count(*) FILTER (WHERE hacienda_try_acquire('m' || i, 2))
		  FROM generate_series(1, 5) AS i}),
	'5',
	'five distinct keys get buckets, each in use');
is($node->safe_psql('postgres', q{SELECT tokens FROM hacienda_status('m6')}),
	'3', 'hacienda_status of a sixth key works (it needs no bucket)');

# One psql session: the sixth key fails with 53200 for both acquiring
# functions, twice, and afterwards the session and the table still work.
my $script = q{
\set VERBOSITY verbose
SELECT 'pid=' || pg_backend_pid();
SELECT hacienda_try_acquire('m6');
\echo 'try=' :LAST_ERROR_SQLSTATE
SELECT 0 AS reset_last_error \g /dev/null
SELECT hacienda_acquire(1, 'm6');
\echo 'acquire=' :LAST_ERROR_SQLSTATE
SELECT 0 AS reset_last_error \g /dev/null
SELECT hacienda_try_acquire('m6');
\echo 'again=' :LAST_ERROR_SQLSTATE
SELECT 'pid=' || pg_backend_pid();
SELECT 'existing=' || hacienda_try_acquire('m1');
SELECT 'status=' || waiting FROM hacienda_status('m2');
};
my ($ret, $stdout, $stderr) =
  $node->psql('postgres', $script, on_error_stop => 0);
is($ret, 0, 'psql finishes normally');
like($stdout, qr/^try= 53200$/m, 'hacienda_try_acquire on a sixth key: SQLSTATE 53200');
like($stdout, qr/^acquire= 53200$/m, 'hacienda_acquire on a sixth key: SQLSTATE 53200');
like($stdout, qr/^again= 53200$/m, 'the sixth key keeps failing');
my @errors = $stderr =~ /ERROR:  53200: (.*)$/mg;
is_deeply(\@errors, [ ('too many rate-limit buckets') x 3 ],
	'each failure is "too many rate-limit buckets"');
my @hints = $stderr =~ /^HINT:  (.*)$/mg;
is(scalar(@hints), 3, 'each failure has a HINT');
like($_, qr/"hacienda_ratelimit\.max_buckets"/, 'the HINT names max_buckets')
  foreach @hints;
like(
	$stderr,
	qr/^DETAIL:  All 5 buckets are in use, and none is idle without limits of its own\.$/m,
	'the DETAIL gives the table size');
unlike($stderr, qr/FATAL|PANIC/, 'no FATAL or PANIC');
my @pids = $stdout =~ /^pid=(\d+)$/mg;
is(scalar(@pids), 2, 'backend pid seen before and after');
is($pids[0], $pids[1], 'the session survived on the same backend');
like($stdout, qr/^existing=true$/m, 'an existing key still grants in that session');
like($stdout, qr/^status=0$/m, 'hacienda_status still works in that session');

# --- the prefix is reserved.
($ret, $stdout, $stderr) = $node->psql(
	'postgres', qq{\\set VERBOSITY verbose\nSET hacienda_ratelimit.nonexistent = 1;});
isnt($ret, 0, 'SET hacienda_ratelimit.nonexistent fails');
like(
	$stderr,
	qr/ERROR:  42602: invalid configuration parameter name "hacienda_ratelimit\.nonexistent"/,
	'the error names the invalid parameter');
like($stderr, qr/"hacienda_ratelimit" is a reserved prefix/,
	'the error says the prefix is reserved');
is( $node->safe_psql(
		'postgres', 'SET other_extension.nonexistent = 1; SHOW other_extension.nonexistent'),
	'1', 'an unreserved custom prefix still accepts placeholders');
($ret, $stdout, $stderr) =
  $node->psql('postgres', 'SET hacienda_ratelimit.capacity = 2');
like($stderr, qr/parameter "hacienda_ratelimit\.capacity" cannot be changed now/,
	'capacity cannot be SET in a session');

ok(!$node->log_contains(qr/terminated by signal/), 'no backend crashed');

$node->stop;
done_testing();
