# 002_standby.pl -- the extension on a hot standby.
#
# A standby's shared memory is its own, so buckets there would be a second,
# separate limit.  Proves that, with the library preloaded on both servers:
#   - on the standby, hacienda_try_acquire() and hacienda_acquire() raise an
#     ERROR with SQLSTATE 25006 ("during recovery"), and the session stays
#     usable;
#   - on the standby, hacienda_status() works and shows a full bucket, even
#     for a key the primary has exhausted, and the refused calls counted
#     nothing;
#   - on the primary, acquiring works and the bucket really runs out.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
# One token per 1000 s: nothing refills while the test runs, so the counts
# below are exact.  postgresql.conf is in the backup, so the standby gets the
# same settings.
$primary->append_conf('postgresql.conf', q{
shared_preload_libraries = 'hacienda_ratelimit'
hacienda_ratelimit.refill_rate = 0.001
});
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION hacienda_ratelimit');

$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);

is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'),
	't', 'the standby is in recovery');
is($standby->safe_psql('postgres', 'SHOW shared_preload_libraries'),
	'hacienda_ratelimit', 'the standby preloads the library');

# On the primary, exhaust key 'shared': 20 grants, then refusals.
is( $primary->safe_psql(
		'postgres',
		q{SELECT count(*) FILTER (WHERE hacienda_try_acquire('shared'))
		  FROM generate_series(1, 21)}),
	'20',
	'primary: hacienda_try_acquire grants the capacity of 20 and no more');
is($primary->safe_psql('postgres', q{SELECT hacienda_acquire(0, 'other')}),
	't', 'primary: hacienda_acquire grants from a full bucket');
is( $primary->safe_psql(
		'postgres',
		q{SELECT tokens < 1, total_requests, rejected_requests
		  FROM hacienda_status('shared')}),
	't|20|1',
	'primary: hacienda_status shows the exhausted bucket');

# On the standby, both acquiring functions refuse with 25006, and the same
# psql session goes on working after each refusal.
my %calls = (
	'hacienda_try_acquire' => q{SELECT hacienda_try_acquire('shared')},
	'hacienda_acquire' => q{SELECT hacienda_acquire(5, 'shared')},);
foreach my $name (sort keys %calls)
{
	my $script = qq{
\\set VERBOSITY verbose
$calls{$name};
\\echo 'sqlstate=' :LAST_ERROR_SQLSTATE
SELECT 'alive';
};
	my ($ret, $stdout, $stderr) =
	  $standby->psql('postgres', $script, on_error_stop => 0);

	is($ret, 0, "standby: $name: psql finishes normally");
	like($stdout, qr/^sqlstate= 25006$/m, "standby: $name: SQLSTATE 25006");
	like(
		$stderr,
		qr/ERROR:  25006: cannot acquire rate-limit tokens during recovery/,
		"standby: $name: the error says it is during recovery");
	unlike($stderr, qr/FATAL|PANIC/, "standby: $name: no FATAL or PANIC");
	like($stdout, qr/^alive$/m, "standby: $name: the session stays usable");
}

# hacienda_status works on the standby and shows a full bucket: the
# primary's exhausted bucket is not replicated, and the refused calls above
# neither took tokens nor created anything.
is( $standby->safe_psql(
		'postgres',
		q{SELECT tokens, capacity, refill_rate, total_requests,
		         rejected_requests, waiting, last_request IS NULL
		  FROM hacienda_status('shared')}),
	'20|20|0.001|0|0|0|t',
	'standby: hacienda_status shows a full, unused bucket');
is($standby->safe_psql('postgres', q{SELECT tokens FROM hacienda_status()}),
	'20', 'standby: hacienda_status of the default key works too');

# The primary's bucket is untouched by anything done on the standby, and
# acquiring there keeps working: a fresh key still grants.
is( $primary->safe_psql(
		'postgres',
		q{SELECT total_requests, rejected_requests FROM hacienda_status('shared')}),
	'20|1', 'primary: the bucket is unchanged by the standby');
is($primary->safe_psql('postgres', q{SELECT hacienda_try_acquire('fresh')}),
	't', 'primary: acquiring still works');

ok(!$standby->log_contains(qr/terminated by signal/), 'standby: no backend crashed');
ok(!$primary->log_contains(qr/terminated by signal/), 'primary: no backend crashed');

$standby->stop;
$primary->stop;
done_testing();
