# 001_not_preloaded.pl -- case F08: the library is NOT in
# shared_preload_libraries.
#
# Proves that on such a server:
#   - CREATE EXTENSION hacienda_ratelimit still succeeds, and a database
#     that uses the extension dumps and restores, so a dump taken elsewhere
#     can be loaded before the configuration is fixed;
#   - each of the four SQL functions raises an ERROR (never FATAL) with
#     SQLSTATE 55000 and a HINT naming shared_preload_libraries;
#   - the session survives the error: a later query in the same psql
#     session, on the same backend, still works;
#   - no function quietly falls back to a private, per-backend bucket:
#     calling again keeps failing, in the same session and in a new one;
#   - nothing crashes the server.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('not_preloaded');
$node->init;
$node->start;

# The server must really run without the library preloaded, or every check
# below would prove nothing.
is($node->safe_psql('postgres', 'SHOW shared_preload_libraries'),
	'', 'shared_preload_libraries is empty');

# CREATE EXTENSION loads the library to check its symbols; that must work
# even though the shared buckets cannot exist.
my ($ret, $stdout, $stderr) =
  $node->psql('postgres', 'CREATE EXTENSION hacienda_ratelimit');
is($ret, 0, 'CREATE EXTENSION succeeds without preloading');
is($stderr, '', 'CREATE EXTENSION prints no error or warning');

# A dump of a database that uses the extension restores: CREATE EXTENSION
# and a view over one of its functions replay without calling it.
$node->safe_psql('postgres', 'CREATE DATABASE dumped');
$node->safe_psql('dumped', q{
	CREATE EXTENSION hacienda_ratelimit;
	CREATE VIEW api_limit AS SELECT tokens FROM hacienda_status('api');
});
$node->safe_psql('postgres', 'CREATE DATABASE restored');
my $dump = "${PostgreSQL::Test::Utils::tmp_check}/dumped.sql";
$node->command_ok([ 'pg_dump', '-f', $dump, '-d', $node->connstr('dumped') ],
	'pg_dump of a database using the extension works');
$node->command_ok(
	[
		'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1',
		'-d', $node->connstr('restored'), '-f', $dump
	],
	'the dump restores without errors');
is( $node->safe_psql(
		'restored',
		q{SELECT extname FROM pg_extension WHERE extname = 'hacienda_ratelimit'
		  UNION ALL SELECT viewname FROM pg_views WHERE viewname = 'api_limit'}),
	"hacienda_ratelimit\napi_limit",
	'the restored database has the extension and the view');

my %calls = (
	'hacienda_try_acquire()' => 'SELECT hacienda_try_acquire()',
	'hacienda_acquire(1)' => 'SELECT hacienda_acquire(1)',
	'hacienda_status()' => 'SELECT * FROM hacienda_status()',
	'hacienda_reset()' => 'SELECT hacienda_reset()',);

foreach my $name (sort keys %calls)
{
	my $call = $calls{$name};

	# One psql session: remember the backend, call the function twice, then
	# run an ordinary query.  ON_ERROR_STOP is off so psql carries on after
	# the errors; LAST_ERROR_SQLSTATE is echoed after each call.
	my $script = qq{
\\set VERBOSITY verbose
SELECT 'pid=' || pg_backend_pid();
$call;
\\echo 'first=' :LAST_ERROR_SQLSTATE
SELECT 0 AS reset_last_error \\g /dev/null
$call;
\\echo 'second=' :LAST_ERROR_SQLSTATE
SELECT 'pid=' || pg_backend_pid();
SELECT 'alive';
};
	($ret, $stdout, $stderr) =
	  $node->psql('postgres', $script, on_error_stop => 0);

	# psql exits 0 when every error was an ordinary statement error; a lost
	# connection (FATAL or crash) would make it exit 2.
	is($ret, 0, "$name: psql finishes normally");
	like($stdout, qr/^first= 55000$/m,
		"$name: first call fails with SQLSTATE 55000");
	like($stdout, qr/^second= 55000$/m,
		"$name: a repeated call fails too (no private bucket)");
	my @errors = $stderr =~ /ERROR:  55000: (.*)$/mg;
	is_deeply(
		\@errors,
		[
			'hacienda_ratelimit is not loaded into shared memory',
			'hacienda_ratelimit is not loaded into shared memory'
		],
		"$name: both calls raise the not-loaded ERROR");
	my @hints = $stderr =~ /^HINT:  (.*)$/mg;
	is(scalar(@hints), 2, "$name: each error has a HINT");
	like($_, qr/"shared_preload_libraries"/,
		"$name: the HINT names shared_preload_libraries")
	  foreach @hints;
	unlike($stderr, qr/FATAL|PANIC/, "$name: no FATAL or PANIC");

	# The same backend answered before and after the errors.
	my @pids = $stdout =~ /^pid=(\d+)$/mg;
	is(scalar(@pids), 2, "$name: backend pid seen before and after");
	is($pids[0], $pids[1], "$name: the session survived on the same backend");
	like($stdout, qr/^alive$/m, "$name: a following query works");

	# A brand new session fails the same way: nothing was created by the
	# previous attempts.
	($ret, $stdout, $stderr) = $node->psql('postgres', $call);
	isnt($ret, 0, "$name: fails in a new session too");
	like($stderr, qr/ERROR:  hacienda_ratelimit is not loaded into shared memory/,
		"$name: new session sees the same ERROR");
}

# The server never crashed or restarted while the functions failed.
ok(!$node->log_contains(qr/terminated by signal|server process .* exited with exit code/),
	'no backend died');
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'server still accepts queries');

$node->stop;
done_testing();
