# 011_import_full_table.pl -- an import that runs out of buckets while it
# sets limits changes nothing.
#
# With hacienda_ratelimit.max_buckets = 6, proves that:
#   - hacienda_import_table_state on an old table with more keys of their own
#     limits than buckets fails with SQLSTATE 53200;
#   - it carries no counters, and the limits it had already set in shared
#     memory are put back: a key configured before keeps its earlier limits,
#     a key that had a bucket under the defaults has the defaults again, and
#     no new key is left configured;
#   - after a restart with room for every key, the same import succeeds and
#     gives each key its old limits.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('import_full_table');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'hacienda_ratelimit'
hacienda_ratelimit.capacity = 20
hacienda_ratelimit.refill_rate = 0.001
hacienda_ratelimit.max_buckets = 6
});
$node->start;

# Key "a" has limits of its own already, "b" a bucket under the defaults.
# The old table gives both, and eight more keys, limits of their own.
$node->safe_psql('postgres', q{
	CREATE EXTENSION hacienda_ratelimit;
	SELECT hacienda_configure('a', 5, 1.0);
	SELECT hacienda_try_acquire('b');
	CREATE TABLE l10n_cr_hacienda_rate_limit_state_old (
		id serial PRIMARY KEY,
		key varchar NOT NULL UNIQUE,
		capacity integer NOT NULL,
		refill_rate double precision NOT NULL,
		total_requests integer NOT NULL DEFAULT 0,
		rejected_requests integer NOT NULL DEFAULT 0,
		last_request timestamp
	);
	INSERT INTO l10n_cr_hacienda_rate_limit_state_old (key, capacity, refill_rate,
		total_requests)
	SELECT k, 7, 2.0, 100 FROM unnest(ARRAY['a', 'b']) AS k
	UNION ALL
	SELECT 'c' || i, 7, 2.0, 100 FROM generate_series(1, 8) AS i;
	CREATE EXTENSION hacienda_ratelimit_compat;
});

my $limits_query = q{
	SELECT string_agg(key || ':' || configured || ':' || capacity || ':' || refill_rate,
		' ' ORDER BY key)
	FROM hacienda_buckets WHERE configured OR key IN ('a', 'b')
};
my $before = $node->safe_psql('postgres', $limits_query);
is($before, 'a:true:5:1 b:false:20:0.001', 'limits before the import');

my ($ret, $stdout, $stderr) = $node->psql('postgres',
	q{SELECT hacienda_import_table_state('l10n_cr_hacienda_rate_limit_state_old')},
	extra_params => [ '-v', 'VERBOSITY=sqlstate' ]);
isnt($ret, 0, 'the import fails when the bucket table fills up');
like($stderr, qr/53200/, 'with SQLSTATE 53200');

is($node->safe_psql('postgres', $limits_query), $before,
	'every limit the import set is put back');
is($node->safe_psql('postgres', 'SELECT count(*) FROM hacienda_carried_counters'), '0',
	'no counters are carried');

$node->append_conf('postgresql.conf', 'hacienda_ratelimit.max_buckets = 20');
$node->restart;

is($node->safe_psql('postgres',
	q{SELECT hacienda_import_table_state('l10n_cr_hacienda_rate_limit_state_old')}),
	'10', 'with room for every key, the import carries all ten');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM hacienda_buckets
	WHERE configured AND capacity = 7 AND refill_rate = 2.0}),
	'10', 'and gives each its old limits');
is($node->safe_psql('postgres', q{
	SELECT sum(total_requests) FROM l10n_cr_hacienda_rate_limit_state}),
	'1001', 'the view shows the carried counts, plus the one grant to b');

$node->stop;
done_testing();
