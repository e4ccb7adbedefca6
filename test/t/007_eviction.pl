# 007_eviction.pl -- a full bucket table makes room by evicting idle
# buckets, and only idle ones.
#
# With hacienda_ratelimit.max_buckets = 50, proves that:
#   - an unprivileged role flooding 10 x 50 distinct keys with
#     hacienda_try_acquire gets every request answered: idle buckets are
#     evicted to make room;
#   - the flood evicts neither an exhausted bucket (it keeps its level and
#     counters, and still refuses a request for its full capacity) nor a
#     configured one (it keeps its own limits, though it is idle);
#   - hacienda_evicted() counts the evicted buckets and sums their grants and
#     refusals, so the grants over hacienda_buckets plus the evicted ones
#     always equal every grant made, also after a clean restart;
#   - a session waiting in hacienda_acquire while a flood runs keeps its
#     bucket, gets its tokens and is counted;
#   - a bucket with a waiter is not evicted even once it has refilled to full
#     (its waiter stopped with SIGSTOP past its slot);
#   - when every bucket is in use, a new key gets SQLSTATE 53200 with a HINT
#     naming "hacienda_ratelimit.max_buckets" from hacienda_try_acquire,
#     hacienda_acquire, hacienda_throttle and hacienda_configure, nothing is
#     evicted, and the session stays usable.
#
# A flood key is idle again only once its bucket is full, and an emptied
# bucket must stay busy for the whole test under the same default limits, so
# a slow refill rate alone cannot serve both: flood keys would never become
# idle and the flood would hit 53200 after 50 keys.  Instead the default
# capacity is 1000 at 10 tokens/s: a flood key, down one token, is idle again
# 0.1 s later, while a bucket emptied of its 1000 tokens needs 100 s to fill.
# The flood goes in rounds of 40 keys with a pause of 0.15 s in between.
use strict;
use warnings;

use IPC::Run;
use List::Util qw(min);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $max_buckets = 50;
my $round = 40;

my $node = PostgreSQL::Test::Cluster->new('eviction');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'hacienda_ratelimit'
hacienda_ratelimit.max_buckets = $max_buckets
hacienda_ratelimit.capacity = 1000
hacienda_ratelimit.refill_rate = 10
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION hacienda_ratelimit;
	CREATE ROLE flooder LOGIN;
});

# Every grant and refusal this test makes, to check the accounting.
my ($granted, $rejected) = (0, 0);

sub as_flooder
{
	my ($sql) = @_;
	return $node->safe_psql('postgres', $sql, extra_params => [ '-U', 'flooder' ]);
}

# Flood $count distinct keys "$prefix-1" ... as the unprivileged role, in
# rounds of $round keys.  Each key gets one grant and then one refusal (a
# request for the whole capacity), which leaves it one token short: idle
# again 0.1 s later, hence the pause after each round.  Returns the number
# of keys that got both answers.
sub flood
{
	my ($prefix, $count) = @_;
	my $script = '';
	for (my $first = 1; $first <= $count; $first += $round)
	{
		my $last = min($first + $round - 1, $count);
		$script .= qq{
SELECT count(*) FILTER (WHERE hacienda_try_acquire('$prefix-' || i)
                          AND NOT hacienda_try_acquire('$prefix-' || i, 1000))
FROM generate_series($first, $last) AS i;
SELECT pg_sleep(0.15) \\g /dev/null
};
	}
	my $answered = 0;
	$answered += $_ foreach split /\n/, as_flooder($script);
	$granted += $answered;
	$rejected += $answered;
	return $answered;
}

# One bucket from hacienda_buckets, or '' if the key has no bucket.
sub bucket
{
	my ($key, $columns) = @_;
	return $node->safe_psql('postgres',
		qq{SELECT $columns FROM hacienda_buckets WHERE key = '$key'});
}

# Sums over hacienda_buckets and hacienda_evicted(), as "grants|refusals".
sub accounted
{
	return $node->safe_psql(
		'postgres', q{
		SELECT b.total + e.total_requests, b.rejected + e.rejected_requests
		FROM (SELECT sum(total_requests) AS total,
		             sum(rejected_requests) AS rejected
		      FROM hacienda_buckets) AS b,
		     hacienda_evicted() AS e});
}

# --- the role is really unprivileged.
my ($ret, $stdout, $stderr) = $node->psql(
	'postgres', q{SELECT hacienda_configure('x', 1, 1)},
	extra_params => [ '-U', 'flooder' ]);
like($stderr, qr/permission denied for function hacienda_configure/,
	'flooder may not configure keys');

# --- an exhausted key and a configured key, before the flood.
# 'victim' is emptied and refuses a second request for its 1000 tokens.
# 'conf' gets limits of its own and is never used: it stays full, and with a
# capacity above the default it looks full under the default limits too, so
# only its configuration can keep it from being evicted.
is( $node->safe_psql(
		'postgres', q{
		SELECT hacienda_try_acquire('victim', 1000);
		SELECT hacienda_try_acquire('victim', 1000);}),
	"t\nf",
	'victim is emptied of its 1000 tokens, and a second request is refused');
$node->safe_psql('postgres', q{SELECT hacienda_configure('conf', 2000, 0.001)});
($granted, $rejected) = (1, 1);
my $victim_last = bucket('victim', 'extract(epoch FROM last_request)');

# --- the flood: 10 x max_buckets distinct keys, one round after the other.
my $flood_keys = 10 * $max_buckets;
is(flood('flood', $flood_keys), $flood_keys,
	"flooding $flood_keys distinct keys: every key got its grant and its refusal");

is(bucket('victim', 'tokens < 500, total_requests, rejected_requests, waiting'),
	't|1|1|0', 'victim was not evicted: it is still far from full, with its counters');
# last_request is recomputed from the monotonic clock on each call: allow
# for a microsecond of rounding.
cmp_ok(abs(bucket('victim', 'extract(epoch FROM last_request)') - $victim_last),
	'<', 0.001, 'victim keeps its last_request');
is(as_flooder(q{SELECT hacienda_try_acquire('victim', 1000)}),
	'f', 'victim still refuses a request for its whole capacity');
$rejected++;
is(bucket('conf', 'tokens, capacity, refill_rate, total_requests, configured'),
	'2000|2000|0.001|0|t', 'conf was not evicted: it keeps its own limits');

# The table is full; the rest of the flood was evicted and counted.
my $kept = $max_buckets - 2;
my $evicted = $flood_keys - $kept;
is($node->safe_psql('postgres', 'SELECT count(*) FROM hacienda_buckets'),
	$max_buckets, 'the table holds max_buckets buckets');
is( $node->safe_psql(
		'postgres', q{SELECT count(*) FROM hacienda_buckets WHERE key LIKE 'flood-%'}),
	$kept, "$kept flood keys are in the table, beside victim and conf");
is(as_flooder('SELECT * FROM hacienda_evicted()'),
	"$evicted|$evicted|$evicted",
	"hacienda_evicted() shows $evicted evicted buckets, each with 1 grant and 1 refusal");
is(accounted(), "$granted|$rejected",
	'grants and refusals over hacienda_buckets plus hacienda_evicted() are all made');

# --- a waiter during a flood.  'waiter' is emptied; a session then waits
# in hacienda_acquire for 70 tokens, 7 s at 10 tokens/s.
is(as_flooder(q{SELECT hacienda_try_acquire('waiter', 1000)}), 't', 'waiter is emptied');
$granted++;
my ($waiter_out, $waiter_err) = ('', '');
my $waiter = IPC::Run::start(
	[
		'psql', '-XAtq', '-d', $node->connstr('postgres') . ' user=flooder',
		'-c', q{SELECT hacienda_acquire(30, 'waiter', 70)}
	],
	'<', \undef, '>', \$waiter_out, '2>', \$waiter_err,
	IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
ok( $node->poll_query_until(
		'postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity
		  WHERE wait_event_type = 'Extension'
		    AND query LIKE 'SELECT hacienda_acquire(30, ''waiter''%'}),
	'a session waits in hacienda_acquire on key waiter');

my $flood2 = 3 * $max_buckets;
is(flood('again', $flood2), $flood2, "a second flood of $flood2 keys meanwhile is answered");
is(bucket('waiter', 'waiting, total_requests'),
	'1|1', 'after the flood waiter still exists and still has its waiter');

$waiter->finish;
is($waiter_out, "t\n", 'the waiting session got its tokens');
is($waiter_err, '', 'and no error');
$granted++;
is(bucket('waiter', 'waiting, total_requests, tokens < 500'),
	'0|2|t', 'waiter counts the grant of the wait and is still far from full');
is(accounted(), "$granted|$rejected", 'the accounting still holds');

# --- every bucket in use.  victim and waiter are far from full and conf is
# configured (it is the one bucket that would look idle without that); fill
# the other 47 places with emptied keys, each evicting an idle flood key.
my $busy = $max_buckets - 3;
is( $node->safe_psql(
		'postgres',
		qq{SELECT count(*) FILTER (WHERE hacienda_try_acquire('busy-' || i, 1000))
		   FROM generate_series(1, $busy) AS i}),
	$busy,
	"$busy more keys are emptied");
$granted += $busy;
is( $node->safe_psql(
		'postgres',
		q{SELECT count(*), count(*) FILTER (WHERE key LIKE 'busy-%')
		  FROM hacienda_buckets}),
	"$max_buckets|$busy",
	'the table is full of busy keys, victim, waiter and conf');
my $evicted_before = as_flooder('SELECT * FROM hacienda_evicted()');

# One psql session of the unprivileged role: each way of creating a bucket
# fails with 53200, and the session goes on.
my $script = q{
\set VERBOSITY verbose
SELECT 'pid=' || pg_backend_pid();
SELECT hacienda_try_acquire('one-too-many');
\echo 'try=' :LAST_ERROR_SQLSTATE
SELECT 0 AS reset_last_error \g /dev/null
SELECT hacienda_acquire(1, 'one-too-many');
\echo 'acquire=' :LAST_ERROR_SQLSTATE
SELECT 0 AS reset_last_error \g /dev/null
SELECT allowed FROM hacienda_throttle('one-too-many');
\echo 'throttle=' :LAST_ERROR_SQLSTATE
SELECT 'pid=' || pg_backend_pid();
SELECT 'existing=' || hacienda_try_acquire('conf');
SELECT 'status=' || tokens FROM hacienda_status('one-too-many');
};
($ret, $stdout, $stderr) = $node->psql(
	'postgres', $script,
	on_error_stop => 0,
	extra_params => [ '-U', 'flooder' ]);
$granted++;
is($ret, 0, 'psql finishes normally');
like($stdout, qr/^try= 53200$/m, 'hacienda_try_acquire on a new key: SQLSTATE 53200');
like($stdout, qr/^acquire= 53200$/m, 'hacienda_acquire on a new key: SQLSTATE 53200');
like($stdout, qr/^throttle= 53200$/m, 'hacienda_throttle on a new key: SQLSTATE 53200');
my @errors = $stderr =~ /ERROR:  53200: (.*)$/mg;
is_deeply(\@errors, [ ('too many rate-limit buckets') x 3 ],
	'each failure is "too many rate-limit buckets"');
my @hints = $stderr =~ /^HINT:  (.*)$/mg;
is(scalar(@hints), 3, 'each failure has a HINT');
like($_, qr/"hacienda_ratelimit\.max_buckets"/, 'the HINT names max_buckets')
  foreach @hints;
unlike($stderr, qr/FATAL|PANIC/, 'no FATAL or PANIC');
my @pids = $stdout =~ /^pid=(\d+)$/mg;
is(scalar(@pids), 2, 'backend pid seen before and after');
is($pids[0], $pids[1], 'the session survived on the same backend');
like($stdout, qr/^existing=true$/m, 'an existing key still grants in that session');
like($stdout, qr/^status=1000$/m, 'hacienda_status of the new key still works');

# A configuration needs a bucket too.
($ret, $stdout, $stderr) = $node->psql('postgres',
	qq{\\set VERBOSITY verbose\nSELECT hacienda_configure('one-too-many', 1, 1)});
like($stderr, qr/ERROR:  53200: too many rate-limit buckets/,
	'hacienda_configure on a new key: SQLSTATE 53200');
like($stderr, qr/HINT:  .*"hacienda_ratelimit\.max_buckets"/, 'with the HINT');

is(as_flooder('SELECT * FROM hacienda_evicted()'),
	$evicted_before, 'nothing was evicted by the failed attempts');
is( $node->safe_psql(
		'postgres',
		q{SELECT string_agg(key, ',' ORDER BY key) FROM hacienda_buckets
		  WHERE key IN ('victim', 'waiter', 'conf', 'one-too-many')}),
	'conf,victim,waiter',
	'victim, waiter and conf are still there, one-too-many is not');

# --- a waiter keeps its bucket even when the bucket is full.  With the
# defaults at 1 token and 0.4 tokens/s every unconfigured bucket above is
# now full, hence idle.  'w2' is emptied and a session reserves its next
# token, due in 2.5 s; the session is stopped before its slot, so the
# bucket fills up (after 5 s) while it still counts one waiter.
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET hacienda_ratelimit.capacity = 1;
	ALTER SYSTEM SET hacienda_ratelimit.refill_rate = 0.4;
	SELECT pg_reload_conf();
});
ok( $node->poll_query_until(
		'postgres',
		q{SELECT capacity = 1 AND refill_rate = 0.4 FROM hacienda_status('w2')}),
	'the new defaults are in effect: 1 token, 0.4 tokens/s');
is(as_flooder(q{SELECT hacienda_try_acquire('w2')}), 't', 'w2 is emptied');
$granted++;

($waiter_out, $waiter_err) = ('', '');
$waiter = IPC::Run::start(
	[
		'psql', '-XAtq', '-d', $node->connstr('postgres') . ' user=flooder',
		'-c', q{SELECT hacienda_acquire(30, 'w2')}
	],
	'<', \undef, '>', \$waiter_out, '2>', \$waiter_err,
	IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
ok( $node->poll_query_until(
		'postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity
		  WHERE wait_event_type = 'Extension'
		    AND query = 'SELECT hacienda_acquire(30, ''w2'')'}),
	'a session waits on w2');
my $w2_pid = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE query = 'SELECT hacienda_acquire(30, ''w2'')'});
is(kill('STOP', $w2_pid), 1, 'the waiting backend is stopped');
is(bucket('w2', 'waiting'), '1', 'w2 counts its waiter, which has not reached its slot');
ok( $node->poll_query_until('postgres', q{SELECT tokens = 1 FROM hacienda_status('w2')}),
	'w2 refills to full while its waiter is stopped');

# The table holds conf, w2 and 48 idle buckets.  50 new keys: 48 of them
# evict the idle buckets and the last 2 find nothing to evict, unless w2 is
# taken for idle.
($ret, $stdout, $stderr) = $node->psql(
	'postgres', q{
DO $$
DECLARE
	ok int := 0;
	full_table int := 0;
	other int := 0;
	state text;
	hint text;
BEGIN
	FOR i IN 1..50 LOOP
		BEGIN
			IF hacienda_try_acquire('late-' || i) THEN
				ok := ok + 1;
			END IF;
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, hint = PG_EXCEPTION_HINT;
			IF state = '53200' AND hint LIKE '%"hacienda_ratelimit.max_buckets"%' THEN
				full_table := full_table + 1;
			ELSE
				other := other + 1;
			END IF;
		END;
	END LOOP;
	RAISE NOTICE 'granted=% full=% other=%', ok, full_table, other;
END
$$;},
	extra_params => [ '-U', 'flooder' ]);
like($stderr, qr/NOTICE:  granted=48 full=2 other=0/,
	'48 new keys evicted the idle buckets; the last 2 got 53200: w2 was not evicted');
$granted += 48;
is(bucket('w2', 'waiting, tokens, total_requests'), '1|1|1', 'w2 is still there, full');

is(kill('CONT', $w2_pid), 1, 'the waiting backend continues');
$waiter->finish;
is($waiter_out, "t\n", 'the waiter on w2 got its token');
is($waiter_err, '', 'and no error');
$granted++;
is(bucket('w2', 'waiting, total_requests'), '0|2', 'w2 counts the grant of the wait');
is(accounted(), "$granted|$rejected", 'the accounting still holds');

# --- the counters of buckets and of evicted buckets survive a clean restart.
my $evicted_now = as_flooder('SELECT * FROM hacienda_evicted()');
$node->restart;
is(as_flooder('SELECT * FROM hacienda_evicted()'),
	$evicted_now, 'hacienda_evicted() is the same after a restart');
is(accounted(), "$granted|$rejected", 'the accounting holds after a restart');

ok(!$node->log_contains(qr/terminated by signal|PANIC/), 'no backend crashed');

$node->stop;
done_testing();
