# 010_large_table.pl -- changing configuration costs what the table holds,
# not what it could hold.
#
# With hacienda_ratelimit.max_buckets = 1000000 and a handful of buckets,
# proves that:
#   - hacienda_configure and hacienda_unconfigure take no memory in the
#     backend in proportion to max_buckets: twenty calls raise its peak
#     resident size (VmHWM) by less than 64 MB, where room for every possible
#     bucket would take over 300 MB;
#   - they are quick: twenty calls take less than 2 s in all;
#   - what they save is complete: after a restart every key is there with its
#     limits, and the keys that were unconfigured have the defaults.
use strict;
use warnings;

use PostgreSQL::Test::BackgroundPsql;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('large_table');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'hacienda_ratelimit'
hacienda_ratelimit.refill_rate = 0.001
hacienda_ratelimit.max_buckets = 1000000
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION hacienda_ratelimit');

# A few buckets without limits of their own beside the configured ones.
is( $node->safe_psql(
		'postgres',
		q{SELECT count(*) FILTER (WHERE hacienda_try_acquire('plain-' || i))
		  FROM generate_series(1, 5) AS i}),
	'5', 'five plain keys grant');

# The peak resident size of a backend, in kB, from /proc.
sub peak_kb
{
	my ($pid) = @_;
	my $status = slurp_file("/proc/$pid/status");
	$status =~ /^VmHWM:\s+(\d+) kB$/m or die "no VmHWM for process $pid";
	return $1;
}

# One session makes every call, so that its peak covers all of them.
my $session = $node->background_psql('postgres');
my $pid = $session->query_safe('SELECT pg_backend_pid()');
# The session has looked at a bucket first, so that the library and the
# catalog entries it uses are loaded before the peak is read.
$session->query_safe(q{SELECT tokens FROM hacienda_status('plain-1')});
my $before_kb = peak_kb($pid);

my $started = time();
foreach my $i (1 .. 10)
{
	$session->query_safe("SELECT hacienda_configure('key-$i', $i, 0.5)");
	$session->query_safe("SELECT hacienda_unconfigure('key-$i')") if $i % 2 == 0;
	$session->query_safe("SELECT hacienda_configure('other-$i', 2, 0.25)") if $i % 2 == 1;
}
my $elapsed = time() - $started;
my $grown_kb = peak_kb($pid) - $before_kb;
$session->quit;

cmp_ok($grown_kb, '<', 64 * 1024,
	'twenty calls raise the backend\'s peak resident size by less than 64 MB');
cmp_ok($elapsed, '<', 2, 'twenty calls take less than 2 s');
note("the calls took $elapsed s and raised the peak by $grown_kb kB");

# Everything was saved: after a restart, odd keys have their limits, even
# keys the defaults, and the plain keys their counters.
my %want;
foreach my $i (1 .. 10)
{
	if ($i % 2)
	{
		$want{"key-$i"} = "key-$i:$i:0.5:true";
		$want{"other-$i"} = "other-$i:2:0.25:true";
	}
	else
	{
		$want{"key-$i"} = "key-$i:20:0.001:false";
	}
}
$node->restart;
is( $node->safe_psql(
		'postgres', q{
		SELECT string_agg(key || ':' || capacity || ':' || refill_rate || ':'
		                  || configured, ' ' ORDER BY key COLLATE "C")
		FROM hacienda_buckets WHERE key LIKE 'key-%' OR key LIKE 'other-%'}),
	join(' ', map { $want{$_} } sort keys %want),
	'after a restart every key has what the calls gave it');
is( $node->safe_psql(
		'postgres', q{SELECT sum(total_requests) FROM hacienda_buckets WHERE key LIKE 'plain-%'}),
	'5', 'the plain keys keep their counters');

$node->stop;
done_testing();
