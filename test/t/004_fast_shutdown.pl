# 004_fast_shutdown.pl -- part of case F09: "pg_ctl stop -m fast" while
# many sessions sleep in hacienda_acquire().
#
# Proves that:
#   - 50 sessions can sleep in hacienda_acquire() at once, each visible with
#     wait_event_type 'Extension';
#   - a fast shutdown ends every one of them at once with the usual
#     "terminating connection due to administrator command" FATAL, instead
#     of waiting out their slots (50 s), and none of them is granted;
#   - the shutdown completes promptly (measured; asserted under a generous
#     20 s) and cleanly, with no backend crashing on the way out;
#   - the server starts again and the extension works.
#
# One key cannot hold 50 long waits: a bucket's waiters queue one behind the
# other, so with a 60 s timeout the first of 50 would be due within 1.2 s.
# Each session therefore waits on its own exhausted key, k1 .. k50, for 50 s.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $sessions = 50;

my $node = PostgreSQL::Test::Cluster->new('fast_shutdown');
$node->init;
# A bucket of one token that refills one token per 50 s: a wait for the next
# token takes 50 s, which fits in the 60 s timeout.
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'hacienda_ratelimit'
max_connections = 80
hacienda_ratelimit.capacity = 1
hacienda_ratelimit.refill_rate = 0.02
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION hacienda_ratelimit');

# Exhaust keys k1 .. k50.
is( $node->safe_psql(
		'postgres',
		qq{SELECT count(*) FILTER (WHERE hacienda_try_acquire('k' || i))
		   FROM generate_series(1, $sessions) AS i}),
	$sessions,
	"$sessions keys exhausted");

# Start the waiters, each in its own psql.
my @waiters;
foreach my $i (1 .. $sessions)
{
	my %w = (out => '', err => '');
	$w{h} = IPC::Run::start(
		[
			'psql', '-XAtq', '-d', $node->connstr('postgres'),
			'-c', "SELECT hacienda_acquire(60, 'k$i')"
		],
		'<', \undef, '>', \$w{out}, '2>', \$w{err},
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	push @waiters, \%w;
}

# All of them are asleep inside the extension.
ok( $node->poll_query_until(
		'postgres',
		q{SELECT count(*) FROM pg_stat_activity
		  WHERE wait_event_type = 'Extension'
		    AND query LIKE 'SELECT hacienda_acquire(60%'},
		$sessions),
	"$sessions sessions sleep with wait_event_type Extension");
is( $node->safe_psql(
		'postgres',
		qq{SELECT sum(waiting) FROM generate_series(1, $sessions) AS i,
		   LATERAL hacienda_status('k' || i)}),
	$sessions,
	'the buckets count one waiter each');

my $log_offset = -s $node->logfile;

# Fast shutdown.  Without prompt interruption of the waits this would take
# the full 50 s of their slots.
my $start = time;
my $stopped = $node->stop('fast', fail_ok => 1);
my $elapsed = time - $start;
ok($stopped, 'pg_ctl stop -m fast succeeds');
note(sprintf('fast shutdown with %d waiters took %.3f s', $sessions, $elapsed));
cmp_ok($elapsed, '<', 20, 'fast shutdown completes within 20 s');

# Every waiter was terminated by the shutdown, none was granted.
my ($terminated, $granted) = (0, 0);
foreach my $w (@waiters)
{
	$w->{h}->finish;
	$terminated++
	  if $w->{err} =~ /FATAL:  terminating connection due to administrator command/;
	$granted++ if $w->{out} =~ /^t$/m;
}
is($terminated, $sessions, 'every waiter was terminated by the shutdown');
is($granted, 0, 'no waiter was granted');

# The shutdown was clean: no backend died of anything else.
my $log = slurp_file($node->logfile, $log_offset);
unlike($log, qr/terminated by signal|server process .* exited with exit code/,
	'no backend crashed during shutdown');
like($log, qr/database system is shut down/, 'the server shut down cleanly');

# Start again: buckets are full, and the counters saved at shutdown are back.
$node->start;
is($node->safe_psql('postgres', q{SELECT hacienda_try_acquire('k1')}),
	't', 'after the restart key k1 is full again');
is( $node->safe_psql(
		'postgres',
		q{SELECT tokens < 1, total_requests, waiting FROM hacienda_status('k1')}),
	't|2|0', 'hacienda_status works after the restart and kept the saved counter');

$node->stop;
done_testing();
