# 009_lower_max_buckets.pl -- lowering hacienda_ratelimit.max_buckets below
# the number of configured keys loses no configuration.
#
# Proves that:
#   - with five configured keys and one plain key saved and max_buckets
#     lowered to 2, the server starts with two configured keys restored and
#     logs a WARNING that counts the three it could not restore, with a HINT
#     to raise max_buckets; the plain key, which comes after them, counts as
#     evicted;
#   - a save by a backend (hacienda_configure) and a save at a clean shutdown
#     in that state keep the three in the state file, so that raising
#     max_buckets again brings all five back with their own limits and
#     counters;
#   - while keys are left out, hacienda_unconfigure on one of them gives its
#     limits up for good; and one of them used under the default limits,
#     after an unconfigured key made room, keeps its own limits and counters
#     in the file, while the bucket it had under the defaults counts as
#     evicted.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('lower_max_buckets');
$node->init;
# Nothing refills noticeably while the test counts.
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'hacienda_ratelimit'
hacienda_ratelimit.refill_rate = 0.001
hacienda_ratelimit.max_buckets = 6
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION hacienda_ratelimit');

# Each key ci has capacity i + 2 and a rate of i thousandths of a token per
# second, so that its limits say which key they belong to.
my @keys = map { "c$_" } 1 .. 5;
my %limits = map { ("c$_" => ($_ + 2) . '|0.00' . $_) } 1 .. 5;

# Restart with another max_buckets; return the log written meanwhile.
sub restart_with
{
	my ($max_buckets) = @_;
	$node->stop;
	$node->append_conf('postgresql.conf', "hacienda_ratelimit.max_buckets = $max_buckets");
	my $offset = -s $node->logfile;
	$node->start;
	return substr(slurp_file($node->logfile), $offset);
}

# "key|capacity|refill_rate|total_requests|configured" of every bucket
# whose key starts with c, one per line, in key order.
sub buckets
{
	return $node->safe_psql(
		'postgres', q{
		SELECT key, capacity, refill_rate, total_requests, configured
		FROM hacienda_buckets WHERE key LIKE 'c%' ORDER BY key});
}

# What buckets() shows for the given keys with their own limits and n grants.
sub configured_rows
{
	my ($n, @of) = @_;
	return join("\n", map { "$_|$limits{$_}|$n|t" } sort @of);
}

# The arguments of hacienda_configure that give key its limits.
sub configure_args
{
	my ($key) = @_;
	my ($capacity, $rate) = split /\|/, $limits{$key};
	return "'$key', $capacity, $rate";
}

# --- five configured keys and a plain one, one grant each, fit in 6 buckets.
foreach my $key (@keys)
{
	$node->safe_psql('postgres', 'SELECT hacienda_configure(' . configure_args($key) . ')');
	is($node->safe_psql('postgres', "SELECT hacienda_try_acquire('$key')"), 't', "$key grants");
}
is(buckets(), configured_rows(1, @keys), 'five configured keys, one grant each');
is($node->safe_psql('postgres', q{SELECT hacienda_try_acquire('plain')}), 't', 'plain grants');

# --- 2 buckets: two keys are restored, three are left out, loudly.
my $log = restart_with(2);
like($log, qr/WARNING:  could not restore the limits of 3 rate-limit buckets/,
	'the log has a WARNING counting three keys whose limits were not restored');
like($log, qr/HINT:  Raise "hacienda_ratelimit\.max_buckets" and restart the server\./,
	'with a HINT to raise max_buckets');
like($log, qr/LOG:  counted 1 saved rate-limit bucket as evicted/,
	'the log says that the plain key was counted as evicted');
is($node->safe_psql('postgres', 'SELECT * FROM hacienda_evicted()'),
	'1|1|0', 'hacienda_evicted() counts plain and its grant');
is($node->safe_psql('postgres', q{SELECT count(*) FROM hacienda_buckets WHERE key = 'plain'}),
	'0', 'plain has no bucket');
my @kept = split /\n/,
  $node->safe_psql('postgres', 'SELECT key FROM hacienda_buckets WHERE configured ORDER BY key');
is(scalar(@kept), 2, 'two configured keys are in the table');
is(buckets(), configured_rows(1, @kept), 'with their own limits and counters');
my %is_kept = map { $_ => 1 } @kept;
my @left_out = grep { !$is_kept{$_} } @keys;

# A backend saves: the configuration of a key in the table changes.
$node->safe_psql('postgres', 'SELECT hacienda_configure(' . configure_args($kept[0]) . ')');
is(buckets(), configured_rows(1, @kept), 'configuring a key again changes nothing else');

# The postmaster saves at a clean shutdown, and loads what it saved.
$log = restart_with(2);
like($log, qr/WARNING:  could not restore the limits of 3 rate-limit buckets/,
	'after saves by a backend and at shutdown, three keys are still left out');
is(buckets(), configured_rows(1, @kept), 'the same two keys are restored');

# --- 5 buckets again: every key is back.
$log = restart_with(5);
unlike($log, qr/could not restore|counted/, 'with 5 buckets every key is restored');
is(buckets(), configured_rows(1, @keys),
	'all five keys are back with their own limits and counters');

# --- changes while keys are left out.
$log = restart_with(2);
@kept = split /\n/,
  $node->safe_psql('postgres', 'SELECT key FROM hacienda_buckets WHERE configured ORDER BY key');
%is_kept = map { $_ => 1 } @kept;
@left_out = grep { !$is_kept{$_} } @keys;
my ($given_up, $used, @waiting) = @left_out;

# A key that is left out can be returned to the defaults: its limits go.
$node->safe_psql('postgres', "SELECT hacienda_unconfigure('$given_up')");
is($node->safe_psql('postgres', 'SELECT count(*) FROM hacienda_buckets'),
	'2', 'unconfiguring a key that is left out makes no bucket');

# A key in the table returns to the defaults and is reset, so that it is
# idle; another left-out key then takes its place under the default limits.
$node->safe_psql('postgres', qq{
	SELECT hacienda_unconfigure('$kept[1]');
	SELECT hacienda_reset('$kept[1]');
});
is($node->safe_psql('postgres', "SELECT hacienda_try_acquire('$used')"),
	't', "$used, left out, grants under the default limits");
is( $node->safe_psql(
		'postgres', "SELECT configured, capacity FROM hacienda_buckets WHERE key = '$used'"),
	'f|20', "$used has the default capacity of 20");
is($node->safe_psql('postgres', 'SELECT * FROM hacienda_evicted()'),
	'2|2|0', "$kept[1] was evicted to make room");

# Saved at shutdown: $kept[0], $used and @waiting have limits of their own.
$log = restart_with(2);
like($log, qr/WARNING:  could not restore the limits of 1 rate-limit bucket$/m,
	'one key is left out now');
$log = restart_with(5);
unlike($log, qr/could not restore/, 'with 5 buckets every key is restored');
is(buckets(), configured_rows(1, $kept[0], $used, @waiting),
	"$kept[0], $used and @waiting are configured as before, with their counters");
is($node->safe_psql('postgres', "SELECT configured FROM hacienda_buckets WHERE key = '$given_up'"),
	'', "$given_up has no bucket: its limits were given up");
is($node->safe_psql('postgres', 'SELECT * FROM hacienda_evicted()'),
	'3|3|0', "$kept[1] and the bucket $used had under the defaults count as evicted");

# The restored limits are the ones enforced, not only shown: a request for
# one token more than the key's own capacity is refused as too large.
my ($capacity) = split /\|/, $limits{$used};
my ($ret, $stdout, $stderr) = $node->psql('postgres',
	"SELECT hacienda_try_acquire('$used', " . ($capacity + 1) . ')');
like($stderr, qr/bucket "$used" holds at most $capacity\./,
	"$used enforces its own capacity of $capacity");

$node->stop;
done_testing();
