/*
 * peek_test.cpp
 *		bucket_peek reports a bucket as it would be at some instant, exactly,
 *		and changes nothing.
 */
#include <gtest/gtest.h>

#include "test_support.hpp"

namespace
{

using namespace hacienda_test;
using hacienda::bucket_init;
using hacienda::bucket_peek;
using hacienda::bucket_reserve;
using hacienda::bucket_try_take;
using hacienda::Snapshot;

const Limits kLimits = {20, per_second(10)};

bool
same_state(const TokenBucket &a, const TokenBucket &b)
{
	return a.limits == b.limits && a.level == b.level && a.carry == b.carry &&
		   a.updated_ns == b.updated_ns && a.last_grant_ns == b.last_grant_ns &&
		   a.granted == b.granted && a.rejected == b.rejected && a.waiting == b.waiting;
}

/* Peeking, at any time and under any limits, leaves every field as it was. */
TEST(Peek, ChangesNothing)
{
	const Limits other = {3, per_second(1000)};
	TokenBucket bucket;

	bucket_init(bucket, kLimits, kStart);
	bucket_try_take(bucket, kLimits, kStart + 7, 13);
	bucket_reserve(bucket, kLimits, kStart + 9, 20, INT64_MAX);
	TokenBucket before = bucket;

	bucket_peek(bucket, kLimits, kStart + 9);
	bucket_peek(bucket, kLimits, kStart + 3600 * kSecond);
	bucket_peek(bucket, other, kStart + kSecond);
	bucket_peek(bucket, kLimits, kStart - kSecond);

	EXPECT_TRUE(same_state(bucket, before));
}

/* A full bucket can be used at once and needs nothing to be full. */
TEST(Peek, FullBucket)
{
	TokenBucket bucket;

	bucket_init(bucket, kLimits, kStart);

	Snapshot s = bucket_peek(bucket, kLimits, kStart);

	EXPECT_EQ(s.level, 20 * kToken);
	EXPECT_EQ(s.retry_after_ns, 0);
	EXPECT_EQ(s.reset_after_ns, 0);
}

/* 30 ms after emptying at 10 tokens/s: 0.3 tokens, 70 ms to one, 1.97 s to full. */
TEST(Peek, ReportsTimesExactly)
{
	TokenBucket bucket;
	int64_t t = kStart + 30 * kMilli;

	bucket_init(bucket, kLimits, kStart);
	drain(bucket, kLimits, kStart);

	Snapshot s = bucket_peek(bucket, kLimits, t);

	EXPECT_EQ(s.level, 3 * kToken / 10);
	EXPECT_EQ(s.retry_after_ns, 70 * kMilli);
	EXPECT_EQ(s.reset_after_ns, 1970 * kMilli);
}

/* At an uneven rate the reported times are the first instants that really work. */
TEST(Peek, TimesAreTheFirstInstantsThatWork)
{
	const Limits limits = {4, 333333333};
	TokenBucket bucket;
	int64_t t = kStart + 1234567891;

	bucket_init(bucket, limits, kStart);
	drain(bucket, limits, kStart);

	Snapshot s = bucket_peek(bucket, limits, t);

	EXPECT_EQ(t + s.retry_after_ns, kStart + time_to_earn(limits.rate, 1));
	EXPECT_EQ(t + s.reset_after_ns, kStart + time_to_earn(limits.rate, 4));

	TokenBucket copy = bucket;

	EXPECT_FALSE(bucket_try_take(copy, limits, t + s.retry_after_ns - 1, 1));
	EXPECT_TRUE(bucket_try_take(copy, limits, t + s.retry_after_ns, 1));

	EXPECT_FALSE(bucket_try_take(bucket, limits, t + s.reset_after_ns - 1, 4));
	EXPECT_TRUE(bucket_try_take(bucket, limits, t + s.reset_after_ns, 4));
}

/* With reservations queued, a new caller's token comes after all of them. */
TEST(Peek, CountsTheDebtOfWaiters)
{
	TokenBucket bucket;

	bucket_init(bucket, kLimits, kStart);
	drain(bucket, kLimits, kStart);
	bucket_reserve(bucket, kLimits, kStart, 3, INT64_MAX);

	Snapshot s = bucket_peek(bucket, kLimits, kStart);

	EXPECT_EQ(s.level, -3 * kToken);
	EXPECT_EQ(s.retry_after_ns, 400 * kMilli);
	EXPECT_EQ(s.reset_after_ns, 2300 * kMilli);
}

/* Peeking under smaller limits shows the trimmed level, without storing it. */
TEST(Peek, OtherLimitsAreShownNotStored)
{
	const Limits small = {5, per_second(10)};
	TokenBucket bucket;

	bucket_init(bucket, kLimits, kStart);

	EXPECT_EQ(bucket_peek(bucket, small, kStart).level, 5 * kToken);

	EXPECT_EQ(drain(bucket, kLimits, kStart), 20);
}

} /* namespace */
