/*
 * reservation_test.cpp
 *		Waiters reserve slots first come, first served, and a request that
 *		would wait too long fails at once without taking anything.
 */
#include <gtest/gtest.h>

#include "test_support.hpp"

namespace
{

using namespace hacienda_test;
using hacienda::bucket_finish_wait;
using hacienda::bucket_init;
using hacienda::bucket_reserve;
using hacienda::bucket_try_take;
using hacienda::Decision;
using hacienda::Outcome;

const Limits kLimits = {20, per_second(10)};
const int64_t kTenth = kSecond / 10; /* one token's worth of time at 10 tokens/s */

/* A bucket started at kStart with its whole burst taken. */
TokenBucket
empty_bucket(const Limits &limits)
{
	TokenBucket bucket;

	bucket_init(bucket, limits, kStart);
	drain(bucket, limits, kStart);
	return bucket;
}

/* Successive reservations at one instant get slots exactly 1/rate apart, in order. */
TEST(Reservation, SlotsAreSpacedOneTokenApart)
{
	TokenBucket bucket = empty_bucket(kLimits);

	for (int64_t k = 1; k <= 8; k++)
	{
		Decision d = bucket_reserve(bucket, kLimits, kStart, 1, INT64_MAX);

		ASSERT_EQ(d.outcome, Outcome::MustWait) << "reservation " << k;
		EXPECT_EQ(d.wait_ns, k * kTenth);
		EXPECT_EQ(d.ready_ns, kStart + k * kTenth);
	}

	EXPECT_EQ(bucket.waiting, 8);
}

/* At a rate that does not divide a second, slot k is the first instant k tokens are earned. */
TEST(Reservation, SlotsAtAnUnevenRate)
{
	const Limits limits = {3, per_second(7)};
	TokenBucket bucket = empty_bucket(limits);
	int64_t previous = kStart;

	for (int64_t k = 1; k <= 50; k++)
	{
		Decision d = bucket_reserve(bucket, limits, kStart, 1, INT64_MAX);

		ASSERT_EQ(d.outcome, Outcome::MustWait);
		EXPECT_EQ(d.ready_ns, kStart + time_to_earn(limits.rate, k)) << "slot " << k;

		/* 1/7 s is 142857142.86 ns: each gap is that, rounded one way or the other. */
		EXPECT_GE(d.ready_ns - previous, 142857142);
		EXPECT_LE(d.ready_ns - previous, 142857143);
		previous = d.ready_ns;
	}
}

/* A later arrival queues behind earlier reservations, not from its own arrival time. */
TEST(Reservation, LaterArrivalQueuesBehind)
{
	TokenBucket bucket = empty_bucket(kLimits);

	bucket_reserve(bucket, kLimits, kStart, 1, INT64_MAX);
	bucket_reserve(bucket, kLimits, kStart, 1, INT64_MAX);

	Decision d = bucket_reserve(bucket, kLimits, kStart + 30 * kMilli, 2, INT64_MAX);

	EXPECT_EQ(d.outcome, Outcome::MustWait);
	EXPECT_EQ(d.ready_ns, kStart + 4 * kTenth);
	EXPECT_EQ(d.wait_ns, 4 * kTenth - 30 * kMilli);
}

/* try_take is refused until the reserved debt is paid and one more token earned. */
TEST(Reservation, TryTakeWaitsForTheDebt)
{
	TokenBucket bucket = empty_bucket(kLimits);

	for (int i = 0; i < 3; i++)
		bucket_reserve(bucket, kLimits, kStart, 1, INT64_MAX);

	EXPECT_FALSE(bucket_try_take(bucket, kLimits, kStart + 3 * kTenth, 1));

	EXPECT_FALSE(bucket_try_take(bucket, kLimits, kStart + 4 * kTenth - 1, 1));

	EXPECT_TRUE(bucket_try_take(bucket, kLimits, kStart + 4 * kTenth, 1));
}

/* With tokens at hand reserve grants at once, with no wait and no waiter. */
TEST(Reservation, GrantsAtOnceWhenTokensAreThere)
{
	TokenBucket bucket;

	bucket_init(bucket, kLimits, kStart);

	Decision d = bucket_reserve(bucket, kLimits, kStart + 5, 20, 0);

	EXPECT_EQ(d.outcome, Outcome::Granted);
	EXPECT_EQ(d.wait_ns, 0);
	EXPECT_EQ(d.ready_ns, kStart + 5);
	EXPECT_EQ(bucket.granted, 1u);
	EXPECT_EQ(bucket.waiting, 0);
}

/* A partly refilled bucket makes the caller wait only for the missing part. */
TEST(Reservation, WaitsOnlyForTheMissingPart)
{
	TokenBucket bucket = empty_bucket(kLimits);

	Decision d = bucket_reserve(bucket, kLimits, kStart + 250 * kMilli, 5, INT64_MAX);

	EXPECT_EQ(d.outcome, Outcome::MustWait);
	EXPECT_EQ(d.wait_ns, 250 * kMilli);
}

/* Too long a wait is refused: nothing taken, a rejection counted, the wait reported. */
TEST(Reservation, FailsFastWithoutTakingAnything)
{
	TokenBucket bucket = empty_bucket(kLimits);
	uint64_t rejected = bucket.rejected;

	Decision refused = bucket_reserve(bucket, kLimits, kStart, 3, 3 * kTenth - 1);

	EXPECT_EQ(refused.outcome, Outcome::Refused);
	EXPECT_EQ(refused.wait_ns, 3 * kTenth);
	EXPECT_EQ(bucket.rejected, rejected + 1);
	EXPECT_EQ(bucket.waiting, 0);

	/* Nothing was taken: the same request, allowed exactly its wait, gets the same slot. */
	Decision accepted = bucket_reserve(bucket, kLimits, kStart, 3, 3 * kTenth);

	EXPECT_EQ(accepted.outcome, Outcome::MustWait);
	EXPECT_EQ(accepted.wait_ns, 3 * kTenth);
}

/* A zero timeout on an empty bucket is refused and reports the time one token needs. */
TEST(Reservation, ZeroTimeoutIsRefused)
{
	TokenBucket bucket = empty_bucket(kLimits);

	Decision d = bucket_reserve(bucket, kLimits, kStart + 40 * kMilli, 1, 0);

	EXPECT_EQ(d.outcome, Outcome::Refused);
	EXPECT_EQ(d.wait_ns, 60 * kMilli);

	EXPECT_TRUE(bucket_try_take(bucket, kLimits, kStart + kTenth, 1));
}

/* The waiting counter rises with each reservation and falls with each finish. */
TEST(Reservation, WaitingCounterGoesUpAndDown)
{
	TokenBucket bucket = empty_bucket(kLimits);

	bucket_reserve(bucket, kLimits, kStart, 1, INT64_MAX);
	bucket_reserve(bucket, kLimits, kStart, 1, INT64_MAX);

	EXPECT_EQ(bucket.waiting, 2);

	bucket_finish_wait(bucket, kStart + kTenth);

	EXPECT_EQ(bucket.waiting, 1);

	bucket_finish_wait(bucket, kStart + 2 * kTenth);

	EXPECT_EQ(bucket.waiting, 0);

	/* A stray finish never drives the counter below zero. */
	bucket_finish_wait(bucket, kStart + 2 * kTenth);

	EXPECT_EQ(bucket.waiting, 0);
}

/* finish_wait counts a grant at the time it is told. */
TEST(Reservation, FinishCountsAGrant)
{
	TokenBucket bucket = empty_bucket(kLimits);
	uint64_t granted = bucket.granted;

	Decision d = bucket_reserve(bucket, kLimits, kStart, 1, INT64_MAX);

	EXPECT_EQ(bucket.granted, granted);

	bucket_finish_wait(bucket, d.ready_ns);

	EXPECT_EQ(bucket.granted, granted + 1);
	EXPECT_EQ(bucket.last_grant_ns, kStart + kTenth);
}

} /* namespace */
