/*
 * envelope_test.cpp
 *		The central invariant, for runs of plain try_take calls: over any
 *		interval [a, b], grants never exceed capacity + rate * (b - a), and a
 *		bucket under constant demand grants at least capacity + rate * T - 1.
 */
#include <gtest/gtest.h>

#include <vector>

#include "test_support.hpp"

namespace
{

using namespace hacienda_test;
using hacienda::bucket_init;
using hacienda::bucket_try_take;

/* The fast checker catches a burst one token over capacity. */
TEST(EnvelopeChecker, FlagsBurstAboveCapacity)
{
	const Limits limits = {3, per_second(1)};
	std::vector<Grant> grants = {{10, 1}, {10, 2}, {10, 1}};

	EXPECT_FALSE(check_envelope(grants, limits).ok);

	grants.pop_back();

	EXPECT_TRUE(check_envelope(grants, limits).ok);
}

/* The fast checker catches a window that is over by a single 10^-18 of a token. */
TEST(EnvelopeChecker, FlagsTheSmallestExcess)
{
	const Limits limits = {1, 3};
	std::vector<Grant> grants = {{0, 1}, {static_cast<int64_t>(kE18 / 3), 1}};

	EnvelopeCheck check = check_envelope(grants, limits);

	EXPECT_FALSE(check.ok);
	EXPECT_TRUE(check.excess == 1);

	grants[1].at++;

	EXPECT_TRUE(check_envelope(grants, limits).ok);
}

/* The fast checker agrees with the pair-by-pair definition on random small histories. */
TEST(EnvelopeChecker, AgreesWithBruteForce)
{
	const Limits limits = {4, per_second(2)};
	Rng rng(42);
	int violations = 0;

	for (int round = 0; round < 3000; round++)
	{
		std::vector<Grant> grants;
		int64_t t = 0;

		for (int i = rng.between(0, 12); i > 0; i--)
		{
			t += rng.between(0, 800 * kMilli);
			grants.push_back({t, rng.between(1, 3)});
		}

		bool fast = check_envelope(grants, limits).ok;

		ASSERT_EQ(fast, envelope_holds_brute_force(grants, limits)) << "round " << round;
		violations += fast ? 0 : 1;
	}

	/* Both outcomes must have been exercised for the agreement to mean anything. */
	EXPECT_GT(violations, 100);
	EXPECT_LT(violations, 2900);
}

struct Scenario
{
	int64_t rate;
	int64_t capacity;
	int64_t max_tokens;
	Spacing spacing;
};

class TryTakeEnvelope : public ::testing::TestWithParam<Scenario>
{
};

/* Random requests of 1..max_tokens at random instants never break the envelope. */
TEST_P(TryTakeEnvelope, NoWindowExceedsCapacityPlusRefill)
{
	const Scenario run = GetParam();
	const Limits limits = {run.capacity, run.rate};
	Rng rng(static_cast<uint64_t>(run.rate) * 31 + static_cast<uint64_t>(run.spacing));
	TokenBucket bucket;
	std::vector<Grant> grants;
	int64_t now = kStart;

	bucket_init(bucket, limits, now);

	for (int step = 0; step < 200000; step++)
	{
		now += next_gap(run.spacing, rng);
		for (int64_t calls = rng.between(0, 4); calls > 0; calls--)
		{
			int64_t tokens = rng.between(1, run.max_tokens);

			if (bucket_try_take(bucket, limits, now, tokens))
				grants.push_back({now, tokens});
		}
	}

	EnvelopeCheck check = check_envelope(grants, limits);

	EXPECT_TRUE(check.ok) << "window [" << check.from_ns << ", " << check.to_ns << "]";
	EXPECT_EQ(bucket.granted, grants.size());
	EXPECT_GT(grants.size(), 50u);
}

/* Under constant demand the grants up to any T are at least capacity + rate * T - 1. */
TEST_P(TryTakeEnvelope, ConstantDemandGetsEverythingEarned)
{
	const Scenario run = GetParam();
	const Limits limits = {run.capacity, run.rate};
	Rng rng(static_cast<uint64_t>(run.rate) + 7);
	TokenBucket bucket;
	std::vector<Grant> grants;
	int64_t now = kStart;
	int64_t total = 0;

	bucket_init(bucket, limits, now);

	for (int step = 0; step < 200000; step++)
	{
		int64_t got = take_all(bucket, limits, now);

		grants.push_back({now, got});
		total += got;

		/* total > capacity + rate * T - 1, in 10^-18 tokens. */
		ASSERT_GT(static_cast<i128>(total + 1) * kE18,
				  static_cast<i128>(limits.capacity) * kE18 +
					  static_cast<i128>(limits.rate) * (now - kStart))
			<< "step " << step;

		now += next_gap(run.spacing, rng);
	}

	EXPECT_TRUE(check_envelope(grants, limits).ok);
}

/* Capacities hold more than one gap's worth, so constant demand never overflows them. */
const Scenario kScenarios[] = {
	{333333333, 3, 2, Spacing::Irregular},
	{333333333, 3, 1, Spacing::ThirtySeven},
	{per_second(7), 10, 4, Spacing::Irregular},
	{per_second(7), 10, 3, Spacing::OneMilli},
	{per_second(10), 20, 5, Spacing::ThirtySeven},
	{per_second(1000000), 50, 2, Spacing::Tight},
	{per_second(1000), 100, 30, Spacing::Irregular},
	{per_second(1000000), 120000, 40000, Spacing::Irregular},
	{per_second(1000000), 3000, 1000, Spacing::OneMilli},
};

INSTANTIATE_TEST_SUITE_P(Runs, TryTakeEnvelope, ::testing::ValuesIn(kScenarios),
						 [](const ::testing::TestParamInfo<Scenario> &info) {
							 return "rate" + std::to_string(info.param.rate) + "_" +
									spacing_name(info.param.spacing);
						 });

} /* namespace */
