# 006_persistence.pl -- per-key configuration and counters kept in
# $PGDATA/hacienda_ratelimit.state across restarts, crashes and corruption.
#
# Proves that:
#   - across a clean restart a configured key keeps its own limits (and
#     hacienda_buckets says configured = true), its counters are what they
#     were, its last_request is within a second of what it was, and its
#     bucket starts full and really enforces the configured capacity; an
#     unconfigured key keeps its counters and the default limits;
#   - across a crash restart (SIGKILL of a backend, the postmaster
#     reinitializes shared memory) configuration is kept, even for a key
#     configured after the last clean shutdown, and counters go back to the
#     last save (the last configuration change), with buckets full;
#   - across SIGKILL of the postmaster itself (children gone, then a fresh
#     start) configuration is kept, including a change made just before;
#   - hacienda_unconfigure also survives a crash restart and a clean restart;
#   - an immediate stop saves nothing, and under load it neither hangs nor
#     PANICs;
#   - a state file that was overwritten in the middle, truncated, replaced by
#     another format or emptied is ignored with a LOG line "ignoring
#     rate-limit state file", the server still starts, buckets have the
#     default limits, and a new hacienda_configure writes a file that a later
#     start loads again.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('persistence');
$node->init;
# PostgreSQL::Test::Cluster turns restart_after_crash off; the crash step
# needs it.  One default token per 1000 s: nothing refills while the test
# counts, so a full bucket after a restart can only come from the restart.
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'hacienda_ratelimit'
restart_after_crash = on
hacienda_ratelimit.refill_rate = 0.001
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION hacienda_ratelimit');

my $state_file = $node->data_dir . '/hacienda_ratelimit.state';

# One bucket as seen in hacienda_buckets: whole tokens, limits, counters and
# whether its limits are its own.  Empty if the key has no bucket.
sub bucket
{
	my ($key) = @_;
	return $node->safe_psql(
		'postgres', qq{
		SELECT floor(tokens)::int, capacity, refill_rate, total_requests,
		       rejected_requests, waiting, configured
		FROM hacienda_buckets WHERE key = '$key'});
}

# last_request of a key, in seconds since the epoch.
sub last_request
{
	my ($key) = @_;
	return $node->safe_psql('postgres',
		qq{SELECT extract(epoch FROM last_request) FROM hacienda_status('$key')});
}

# "granted,refused" of n calls of hacienda_try_acquire(key).
sub take
{
	my ($key, $n) = @_;
	return $node->safe_psql(
		'postgres', qq{
		SELECT count(*) FILTER (WHERE g) || ',' || count(*) FILTER (WHERE NOT g)
		FROM (SELECT hacienda_try_acquire('$key') AS g
		      FROM generate_series(1, $n)) AS calls});
}

# SIGKILL a sleeping backend and wait for the crash restart to finish.
sub crash_restart
{
	my ($out, $err) = ('', '');
	my $sleeper = IPC::Run::start(
		[ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-c', 'SELECT pg_sleep(300)' ],
		'<', \undef, '>', \$out, '2>', \$err,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	ok( $node->poll_query_until(
			'postgres',
			q{SELECT count(*) = 1 FROM pg_stat_activity
			  WHERE query = 'SELECT pg_sleep(300)'}),
		'a backend sleeps');
	my $pid = $node->safe_psql('postgres',
		q{SELECT pid FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(300)'});
	my $offset = -s $node->logfile;
	is(kill('KILL', $pid), 1, 'sent SIGKILL to the backend');
	$node->wait_for_log(qr/all server processes terminated; reinitializing/, $offset);
	ok($node->poll_query_until('postgres', 'SELECT 1', '1'),
		'the server accepts connections again after the crash restart');
	$sleeper->finish;
	return;
}

sub read_raw
{
	my ($path) = @_;
	open(my $fh, '<:raw', $path) or die "could not read $path: $!";
	local $/;
	my $data = <$fh>;
	close($fh);
	return $data;
}

sub write_raw
{
	my ($path, $data) = @_;
	open(my $fh, '>:raw', $path) or die "could not write $path: $!";
	print $fh $data;
	close($fh) or die "could not close $path: $!";
	return;
}

# The pids whose parent is $ppid, read from /proc, zombies left out.
sub live_children
{
	my ($ppid) = @_;
	my @kids;
	opendir(my $dh, '/proc') or die "no /proc: $!";
	foreach my $pid (grep { /^\d+$/ } readdir($dh))
	{
		open(my $fh, '<', "/proc/$pid/stat") or next;
		my $stat = <$fh>;
		close($fh);
		next unless defined $stat && $stat =~ /\)\s+(\S)\s+(\d+)/;
		push @kids, $pid if $2 == $ppid && $1 ne 'Z';
	}
	closedir($dh);
	return @kids;
}

# Whether a process exists and is not a zombie.
sub running
{
	my ($pid) = @_;
	open(my $fh, '<', "/proc/$pid/stat") or return 0;
	my $stat = <$fh>;
	close($fh);
	return defined $stat && $stat !~ /\)\s+Z\s/;
}

# --- configure a key and use it.
# 'api' gets limits of its own; 'plain' keeps the defaults.  Nothing refills
# noticeably (0.002 and 0.001 tokens/s), so the counts are exact.
$node->safe_psql('postgres', q{SELECT hacienda_configure('api', 5, 0.002)});
ok(-f $state_file, 'hacienda_configure writes the state file at once');
is(bucket('api'), '5|5|0.002|0|0|0|t', 'api has its own limits: capacity 5, 0.002/s');
is(take('api', 7), '5,2', 'api grants its capacity of 5 and refuses 2');
is(take('plain', 3), '3,0', 'plain grants 3 under the default limits');
is(bucket('api'), '0|5|0.002|5|2|0|t', 'api is exhausted with 5 grants, 2 refusals');
is(bucket('plain'), '17|20|0.001|3|0|0|f', 'plain has 17 of 20 tokens left');
my $api_last = last_request('api');
my $plain_last = last_request('plain');

# --- a clean restart: the postmaster saves counters at shutdown and loads
# the file when it creates shared memory again.
my $log_offset = -s $node->logfile;
$node->restart;
is(bucket('api'), '5|5|0.002|5|2|0|t',
	'after a clean restart api is configured with capacity 5 and 0.002/s, '
	  . 'counters 5 and 2, and full again');
is(bucket('plain'), '20|20|0.001|3|0|0|f',
	'plain keeps its counters and the default limits, and is full again');
cmp_ok(abs(last_request('api') - $api_last), '<', 1,
	'api last_request is within a second of what it was');
cmp_ok(abs(last_request('plain') - $plain_last), '<', 1,
	'plain last_request is within a second of what it was');
ok(!$node->log_contains(qr/ignoring rate-limit state file/, $log_offset),
	'the saved file was not ignored');
# The restored limits are the ones enforced, not only shown.
is(take('api', 6), '5,1', 'api again grants exactly 5 and refuses the 6th');

# --- SIGKILL of a backend: the postmaster kills everything, reinitializes
# shared memory and loads the file again; it saves nothing on the way.
# 'late' is configured after the last clean shutdown.  That configuration
# change is the last save: it holds api at 10 grants and 3 refusals.
$node->safe_psql('postgres', q{SELECT hacienda_configure('late', 3, 0.002)});
is(take('late', 4), '3,1', 'late grants its capacity of 3 and refuses 1');
is(take('api', 2), '0,2', 'api refuses 2 more after the last save');
is(bucket('api'), '0|5|0.002|10|5|0|t', 'api counts 10 grants and 5 refusals');

$log_offset = -s $node->logfile;
crash_restart();

is(bucket('late'), '3|3|0.002|0|0|0|t',
	'after the crash late, configured after the last clean shutdown, is still '
	  . 'configured, full, with its counters of the last save (none)');
is(bucket('api'), '5|5|0.002|10|3|0|t',
	'api is still configured, full, with the counters of the last save (10 and 3)');
is(bucket('plain'), '20|20|0.001|3|0|0|f', 'plain keeps the counters of the last save');
ok(!$node->log_contains(qr/ignoring rate-limit state file/, $log_offset),
	'the file was not ignored at the crash restart');

# --- SIGKILL of the postmaster.  Change configuration just before: give
# 'pm' limits and change those of 'late'.
$node->safe_psql('postgres', q{
	SELECT hacienda_configure('pm', 4, 0.002);
	SELECT hacienda_configure('late', 7, 0.004);
});
is(take('pm', 2), '2,0', 'pm grants 2 after its configuration was saved');

my $postmaster_pid = (split /\n/, read_raw($node->data_dir . '/postmaster.pid'))[0];
my @children = live_children($postmaster_pid);
cmp_ok(scalar(@children), '>', 0, 'the postmaster has children');
$node->kill9;
# Orphaned children notice the postmaster is gone and exit.  A new
# postmaster refuses to start while the old one's pid still exists (even as a
# zombie, until init reaps it) or while a child still uses shared memory.
# Wait until every pid is gone; kill the children that linger after 5 s.
foreach my $attempt (1 .. 10 * $PostgreSQL::Test::Utils::timeout_default)
{
	last unless grep { -e "/proc/$_" } @children, $postmaster_pid;
	kill('KILL', grep { running($_) } @children) if $attempt == 50;
	usleep(100_000);
}
is(scalar(grep { -e "/proc/$_" } @children, $postmaster_pid),
	0, 'the postmaster and all its children are gone');

$log_offset = -s $node->logfile;
ok($node->start(fail_ok => 1), 'the server starts after SIGKILL of the postmaster');
is(bucket('pm'), '4|4|0.002|0|0|0|t',
	'pm, configured just before the kill, is configured and full');
is(bucket('late'), '7|7|0.004|0|0|0|t', 'the changed limits of late are kept');
is(bucket('api'), '5|5|0.002|10|3|0|t', 'api keeps its limits and the saved counters');
ok(!$node->log_contains(qr/ignoring rate-limit state file/, $log_offset),
	'the file was not ignored after SIGKILL of the postmaster');

# --- hacienda_unconfigure survives a crash restart (so it was saved at
# once, not at shutdown) and a clean restart.
$node->safe_psql('postgres', q{SELECT hacienda_unconfigure('pm')});
# Nobody has used pm since the server started, so it starts full again.
is(bucket('pm'), '20|20|0.001|0|0|0|f',
	'pm is back to the default limits at once, full under them');
crash_restart();
is(bucket('pm'), '20|20|0.001|0|0|0|f',
	'after a crash restart pm is still unconfigured, with the default limits');
is(bucket('late'), '7|7|0.004|0|0|0|t', 'late is still configured');
$node->restart;
is(bucket('pm'), '20|20|0.001|0|0|0|f',
	'after a restart pm is still unconfigured, with the default limits');
is(bucket('late'), '7|7|0.004|0|0|0|t', 'late is still configured');
is(bucket('api'), '5|5|0.002|10|3|0|t', 'api is still configured');

# --- an immediate stop saves nothing.  It kills the backends wherever they
# are, perhaps holding the extension's locks, so shared memory is not to be
# trusted: counters go back to the last save, as after a crash.  Under load
# the stop neither hangs nor PANICs on a lock a killed backend held.
is(take('api', 2), '2,0', 'api grants 2 more before the immediate stop');
$node->stop('immediate');
$node->start;
is(bucket('api'), '5|5|0.002|10|3|0|t',
	'after an immediate stop api has the counters of the last clean save');

# Each loop calls on one hot key and on ever new keys, which fill the table
# and then keep raising 53200 while holding nothing.
my $hammer = q{DO $$ BEGIN LOOP
	PERFORM hacienda_try_acquire('hot');
	BEGIN
		PERFORM hacienda_try_acquire('new-' || random());
	EXCEPTION WHEN insufficient_resources THEN NULL;
	END;
END LOOP; END $$};
foreach my $round (1 .. 4)
{
	my @loops = map {
		IPC::Run::start([ 'psql', '-X', '-q', '-d', $node->connstr('postgres'), '-c', $hammer ],
			'>', \my $out, '2>', \my $err)
	} 1 .. 3;
	usleep(300_000);
	$node->stop('immediate');
	$_->finish foreach @loops;
	ok($node->start(fail_ok => 1),
		"round $round: the server starts again after an immediate stop under load");
}

# --- corrupt state files.  Keep a good file written at a clean shutdown;
# each case damages a copy of it.
$node->stop;
my $good = read_raw($state_file);
is(substr($good, 0, 4), pack('V', 0x48524c53), 'the saved file starts with the magic');
my $middle = int(length($good) / 2);
my %corrupt = (
	'overwritten in the middle' => [
		substr($good, 0, $middle) . (substr($good, $middle, 16) ^ ("\xff" x 16))
		  . substr($good, $middle + 16),
		qr/its checksum does not match/
	],
	'truncated' => [ substr($good, 0, $middle), qr/it is truncated/ ],
	'another format' => [
		qq({"format": "ratelimit-json", "buckets": [{"key": "api", "capacity": 5}]}\n)
		  x 8,
		qr/it was not written by this version of hacienda_ratelimit/
	],
	'empty' => [ '', qr/it was not written by this version of hacienda_ratelimit/ ],);

my $n = 0;
foreach my $case (sort keys %corrupt)
{
	my ($bytes, $reason) = @{ $corrupt{$case} };
	my $fresh = 'fresh' . ++$n;

	# Start on the damaged file: ignored with a LOG line, never fatal.
	write_raw($state_file, $bytes);
	$log_offset = -s $node->logfile;
	ok($node->start(fail_ok => 1), "$case: the server starts");
	ok( $node->log_contains(
			qr/LOG:  ignoring rate-limit state file "hacienda_ratelimit\.state": $reason/,
			$log_offset),
		"$case: the log says the file is ignored, and why");
	is($node->safe_psql('postgres', 'SELECT count(*) FROM hacienda_buckets'),
		'0', "$case: no bucket was loaded");
	is( $node->safe_psql(
			'postgres',
			q{SELECT tokens, capacity, refill_rate, total_requests
			  FROM hacienda_status('api')}),
		'20|20|0.001|0',
		"$case: api has the default limits and zero counters");
	is($node->safe_psql('postgres', 'SELECT * FROM hacienda_evicted()'),
		'0|0|0', "$case: no evicted totals were loaded");

	# A new configuration is written durably at once.  Keep exactly what
	# hacienda_configure wrote (the clean stop below saves again), put it
	# back, and start on it: it must load without complaint.
	$node->safe_psql('postgres', qq{SELECT hacienda_configure('$fresh', 2, 0.002)});
	my $written = read_raw($state_file);
	is(substr($written, 0, 4), pack('V', 0x48524c53),
		"$case: hacienda_configure wrote a file with the magic");
	$node->stop;
	write_raw($state_file, $written);
	$log_offset = -s $node->logfile;
	$node->start;
	ok(!$node->log_contains(qr/ignoring rate-limit state file/, $log_offset),
		"$case: the file written by hacienda_configure is not ignored");
	is(bucket($fresh), '2|2|0.002|0|0|0|t',
		"$case: $fresh is configured from that file");
	is($node->safe_psql('postgres', 'SELECT count(*) FROM hacienda_buckets'),
		'1', "$case: and nothing else was in it");
	$node->stop;
}

# Nothing crashed but the backends this test killed.
my $log = slurp_file($node->logfile);
my @deaths = $log =~ /(server process .* terminated by signal.*)/g;
is(scalar(@deaths), 2, 'the log shows two dead server processes: the SIGKILLs')
  or diag join("\n", @deaths);
unlike($log, qr/PANIC/, 'no PANIC');
done_testing();
