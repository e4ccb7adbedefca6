/*
 * exactness_test.cpp
 *		Over long simulated runs a bucket drained at every call grants exactly
 *		capacity + floor(rate * elapsed), whatever the rate and call spacing.
 */
#include <gtest/gtest.h>

#include <algorithm>
#include <tuple>

#include "test_support.hpp"

namespace
{

using namespace hacienda_test;
using hacienda::bucket_init;

/* Rates in nanotokens per second: 0.01, 1/3, 7, 10, 1000 and 10^6 tokens/s. */
const int64_t kRates[] = {10000000,       333333333,        per_second(7),
						  per_second(10), per_second(1000), per_second(1000000)};

const Spacing kSpacings[] = {Spacing::Tight, Spacing::OneMilli, Spacing::ThirtySeven,
							 Spacing::Irregular};

constexpr int64_t kMaxSteps = 300000;
constexpr int64_t kMaxTokens = 300000;

/*
 * The capacity must hold more than one gap's earnings, or the bucket would
 * overflow between calls and the count would rightly fall short.
 */
int64_t
capacity_for(int64_t rate)
{
	return std::max<int64_t>(20, 2 * tokens_earned(rate, kMaxGap) + 2);
}

class Exactness : public ::testing::TestWithParam<std::tuple<int64_t, Spacing>>
{
};

/* After every call, grants so far == capacity + floor(rate * elapsed / 10^18), exactly. */
TEST_P(Exactness, DrainedBucketGrantsExactlyWhatWasEarned)
{
	int64_t rate = std::get<0>(GetParam());
	Spacing spacing = std::get<1>(GetParam());
	Limits limits = {capacity_for(rate), rate};
	Rng rng(0x5EED0000 + static_cast<uint64_t>(rate));
	TokenBucket bucket;
	int64_t now = kStart;
	int64_t granted;

	bucket_init(bucket, limits, now);
	granted = drain(bucket, limits, now);

	for (int64_t step = 0; step < kMaxSteps; step++)
	{
		now += next_gap(spacing, rng);
		granted += drain(bucket, limits, now);

		int64_t expected = limits.capacity + tokens_earned(rate, now - kStart);

		ASSERT_EQ(granted, expected) << "step " << step << " at +" << now - kStart << " ns";
		if (granted > kMaxTokens)
			break;
	}

	EXPECT_EQ(bucket.granted, static_cast<uint64_t>(granted));
}

INSTANTIATE_TEST_SUITE_P(RatesAndSpacings, Exactness,
						 ::testing::Combine(::testing::ValuesIn(kRates),
											::testing::ValuesIn(kSpacings)),
						 [](const ::testing::TestParamInfo<Exactness::ParamType> &info)
						 {
							 return "rate" + std::to_string(std::get<0>(info.param)) + "_" +
									spacing_name(std::get<1>(info.param));
						 });

/* The same elapsed time gives the same count, whether in 1 ms or 37 ms steps. */
TEST(ExactnessAcrossSpacings, SameTotalForSameElapsedTime)
{
	const Limits limits = {20, 333333333};
	const int64_t elapsed = 37 * 1000 * kMilli;
	int64_t totals[2];
	int64_t steps[2] = {kMilli, 37 * kMilli};

	for (int k = 0; k < 2; k++)
	{
		TokenBucket bucket;

		bucket_init(bucket, limits, kStart);
		totals[k] = drain(bucket, limits, kStart);
		for (int64_t t = kStart + steps[k]; t <= kStart + elapsed; t += steps[k])
			totals[k] += drain(bucket, limits, t);
	}

	EXPECT_EQ(totals[0], totals[1]);

	/* 37 s at 0.333333333 tokens/s is 12.33 tokens: 12 whole ones. */
	EXPECT_EQ(totals[0], 20 + 12);
}

/* A rate that divides nothing evenly still loses no remainder over a million 1 ns steps. */
TEST(ExactnessAcrossSpacings, RemainderCarriedThroughTinySteps)
{
	const Limits limits = {5, 999999937};
	TokenBucket bucket;
	int64_t granted;
	int64_t t = kStart;

	bucket_init(bucket, limits, kStart);
	granted = drain(bucket, limits, kStart);

	for (int i = 0; i < 1000000; i++)
		granted += drain(bucket, limits, ++t);

	for (int i = 0; i < 3; i++)
	{
		t += 333333331;
		granted += drain(bucket, limits, t);
	}

	EXPECT_EQ(granted, 5 + tokens_earned(limits.rate, t - kStart));
}

} /* namespace */
