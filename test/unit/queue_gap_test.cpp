/*
 * tail_cancel_test.cpp
 *		A tail cancel puts the bucket back exactly where a twin bucket that
 *		never made the reservation is, fractions of a token included; one
 *		after the rate changed gives nothing back and stays on the safe side.
 */
#include <gtest/gtest.h>

#include <vector>

#include "test_support.hpp"

namespace
{

using namespace hacienda_test;
using hacienda::bucket_cancel_wait;
using hacienda::bucket_init;
using hacienda::bucket_peek;
using hacienda::bucket_reserve;
using hacienda::bucket_try_take;
using hacienda::Decision;
using hacienda::Outcome;
using hacienda::Snapshot;

/* real and twin look alike through bucket_peek at from and at several later instants. */
void
expect_same_view(const TokenBucket &real, const TokenBucket &twin, const Limits &limits,
				 int64_t from)
{
	for (int64_t later :
		 {INT64_C(0), INT64_C(1), 7 * kMilli + 3, kSecond / 3, 10 * kSecond, 1000 * kSecond})
	{
		Snapshot a = bucket_peek(real, limits, from + later);
		Snapshot b = bucket_peek(twin, limits, from + later);

		EXPECT_EQ(a.level, b.level) << "at +" << later;
		EXPECT_EQ(a.retry_after_ns, b.retry_after_ns) << "at +" << later;
		EXPECT_EQ(a.reset_after_ns, b.reset_after_ns) << "at +" << later;
	}
}

/* As above, and once a refused take brings both to one clock, every field agrees. */
void
expect_same_bucket(TokenBucket real, TokenBucket twin, const Limits &limits, int64_t from)
{
	expect_same_view(real, twin, limits, from);

	bucket_try_take(real, limits, from, limits.capacity + 1);
	bucket_try_take(twin, limits, from, limits.capacity + 1);

	EXPECT_EQ(real.level, twin.level);
	EXPECT_EQ(real.carry, twin.carry);
	EXPECT_EQ(real.updated_ns, twin.updated_ns);
	EXPECT_EQ(real.last_grant_ns, twin.last_grant_ns);
	EXPECT_EQ(real.granted, twin.granted);
	EXPECT_EQ(real.rejected, twin.rejected);
	EXPECT_EQ(real.waiting, twin.waiting);
}

/* At 1/3 token/s, with a fraction in hand: a tail cancel restores level and remainder. */
TEST(TailCancel, RestoresTheBucketExactly)
{
	const Limits limits = {5, 333333333};
	TokenBucket real;

	bucket_init(real, limits, kStart);
	ASSERT_TRUE(bucket_try_take(real, limits, kStart + 1234567, 4));

	TokenBucket twin = real;
	int64_t reserved_at = kStart + 2 * kSecond + 777;
	Decision d = bucket_reserve(real, limits, reserved_at, 3, INT64_MAX);

	ASSERT_EQ(d.outcome, Outcome::MustWait);
	ASSERT_GT(d.ready_ns, reserved_at + kSecond);

	int64_t cancelled_at = d.ready_ns - kSecond - 11;

	bucket_cancel_wait(real, limits, cancelled_at, 3, d.ready_ns);

	expect_same_bucket(real, twin, limits, cancelled_at);
}

/*
 * Capacity 2, full, at 1/3 token/s: reserving 3 and giving them back refills
 * it to exactly 2 with no remainder, as if nothing was asked.
 */
TEST(TailCancel, CappedGiveBackRestoresTheBucketExactly)
{
	const Limits limits = {2, 333333333};
	const int64_t cancelled_at = kStart + kSecond + 1;
	TokenBucket real;

	bucket_init(real, limits, kStart);

	TokenBucket twin = real;
	Decision d = bucket_reserve(real, limits, kStart, 3, INT64_MAX);

	ASSERT_EQ(d.ready_ns, kStart + time_to_earn(limits.rate, 1));

	/* -1 token plus a third (and a remainder), plus 3 tokens, cut to 2. */
	bucket_cancel_wait(real, limits, cancelled_at, 3, d.ready_ns);

	EXPECT_EQ(bucket_peek(real, limits, cancelled_at).level, 2 * kToken);
	expect_same_bucket(real, twin, limits, cancelled_at);
}

/*
 * Four waiters cancel from the back, one by one, all before the first slot.
 * After each cancel the bucket equals a twin that made only the reservations
 * still standing; after the last, one that made none.
 */
TEST(TailCancel, SuccessiveTailCancelsReturnEverything)
{
	const Limits limits = {20, per_second(7)};
	const int64_t tokens[] = {3, 1, 5, 2};
	const int64_t at[] = {kStart, kStart + 10 * kMilli, kStart + 20 * kMilli, kStart + 30 * kMilli};
	TokenBucket real;
	std::vector<TokenBucket> before; /* before[k]: the bucket before reservation k */
	std::vector<Decision> made;

	bucket_init(real, limits, kStart);
	drain(real, limits, kStart);
	for (int k = 0; k < 4; k++)
	{
		before.push_back(real);
		made.push_back(bucket_reserve(real, limits, at[k], tokens[k], INT64_MAX));
		ASSERT_EQ(made.back().outcome, Outcome::MustWait);
	}

	/* The first slot: 3 tokens at 7/s, rounded up to the nanosecond. */
	ASSERT_EQ(made[0].ready_ns, kStart + 428571429);

	for (int k = 3; k >= 0; k--)
	{
		int64_t now = kStart + (4 - k) * 100 * kMilli;
		TokenBucket twin = before[static_cast<size_t>(k)];

		/* The twin made reservations 0..k-1 at the same instants, and no more. */
		bucket_cancel_wait(real, limits, now, tokens[k], made[static_cast<size_t>(k)].ready_ns);

		SCOPED_TRACE("after cancelling reservation " + std::to_string(k));
		expect_same_bucket(real, twin, limits, now);
	}
	EXPECT_EQ(real.waiting, 0);
	EXPECT_EQ(bucket_peek(real, limits, kStart + kSecond).level, 7 * kToken);
}

/*
 * Random histories at uneven rates: after any mix of takes and reservations,
 * a new reservation cancelled before its slot leaves the bucket as it was.
 */
TEST(TailCancel, RandomHistoriesRestoreExactly)
{
	const Limits all[] = {
		{3, 333333333}, {10, per_second(7)}, {100, 142857143}, {1000, per_second(999983)}};
	Rng rng(2024);
	int checked = 0;

	for (int round = 0; round < 400; round++)
	{
		const Limits limits = all[round % 4];
		TokenBucket real;
		int64_t now = kStart;

		bucket_init(real, limits, now);
		for (int i = rng.between(0, 6); i > 0; i--)
		{
			now += rng.between(0, time_to_earn(limits.rate, 2));
			if (rng.next() % 2 == 0)
				bucket_try_take(real, limits, now, rng.between(1, limits.capacity));
			else
				bucket_reserve(real, limits, now, rng.between(1, limits.capacity), INT64_MAX);
		}

		TokenBucket twin = real;
		int64_t tokens = rng.between(1, limits.capacity);
		Decision d = bucket_reserve(real, limits, now, tokens, INT64_MAX);

		if (d.outcome != Outcome::MustWait)
			continue;

		int64_t cancelled_at = rng.between(now, d.ready_ns - 1);

		bucket_cancel_wait(real, limits, cancelled_at, tokens, d.ready_ns);

		SCOPED_TRACE("round " + std::to_string(round));
		expect_same_bucket(real, twin, limits, cancelled_at + rng.between(0, kSecond));
		checked++;
	}
	EXPECT_GT(checked, 200);
}

/*
 * The tail cannot tell itself after the rate changed: 3 tokens of debt at
 * 10/s, paid at 0.8 s, become 1 token at 0.7 s that a new rate pays at a new
 * instant.  The cancel then returns nothing, which is safe: the bucket is just
 * as it would be had the waiter been served, and counts it no longer waits.
 */
TEST(TailCancel, AfterARateChangeReturnsNothing)
{
	const Limits before = {20, per_second(10)};
	const Limits after[] = {{20, per_second(20)}, {20, per_second(5)}};

	for (const Limits &limits : after)
	{
		TokenBucket real;

		bucket_init(real, before, kStart);
		drain(real, before, kStart);

		Decision d = bucket_reserve(real, before, kStart + 500 * kMilli, 8, INT64_MAX);

		ASSERT_EQ(d.ready_ns, kStart + 800 * kMilli);

		TokenBucket served = real;

		bucket_cancel_wait(real, limits, kStart + 700 * kMilli, 8, d.ready_ns);

		/* The served twin switches to the new limits at the same instant. */
		bucket_try_take(served, limits, kStart + 700 * kMilli, limits.capacity + 1);

		SCOPED_TRACE("new rate " + std::to_string(limits.rate));
		EXPECT_EQ(real.waiting, 0);
		EXPECT_EQ(bucket_peek(real, limits, kStart + 700 * kMilli).level, -kToken);
		expect_same_view(real, served, limits, kStart + 700 * kMilli);

		/* From -1 at 0.7 s, the first whole token comes after two tokens' worth. */
		int64_t first = kStart + 700 * kMilli + time_to_earn(limits.rate, 2);

		EXPECT_EQ(drain(real, limits, first - 1), 0);
		EXPECT_EQ(drain(real, limits, first), 1);
	}
}

} /* namespace */
