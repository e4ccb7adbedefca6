/*
 * queue_gap_test.cpp
 *		A waiter that gives up before it is due, wherever it stands in the
 *		queue, leaves the bucket exactly where a twin that never made the
 *		reservation is, fractions of a token and the ticket counter included,
 *		and the tickets behind it become the twin's tickets.  This holds
 *		across a change of rate or capacity, and across the wrap of the ticket
 *		counter at 2^64.
 */
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace
{

using namespace hacienda_test;
using hacienda::bucket_cancel_wait;
using hacienda::bucket_init;
using hacienda::bucket_peek;
using hacienda::bucket_reserve;
using hacienda::bucket_ticket_wait;
using hacienda::bucket_try_take;
using hacienda::Decision;
using hacienda::Outcome;
using hacienda::Snapshot;
using hacienda::ticket_after_cancel;

/* One reservation of a scripted history: when it is made, and for how many tokens. */
struct Ask
{
	int64_t at;
	int64_t tokens;
};

/* A bucket started at kStart with its whole burst taken. */
TokenBucket
empty_bucket(const Limits &limits)
{
	TokenBucket bucket;

	bucket_init(bucket, limits, kStart);
	drain(bucket, limits, kStart);
	return bucket;
}

/*
 * Make the reservations of asks, leaving out number skip (or none if skip is
 * negative).  Returns false unless each one had to wait; tickets[k] is the
 * ticket of ask k, 0 for the one left out.
 */
bool
replay(TokenBucket &bucket, const Limits &limits, const std::vector<Ask> &asks, int skip,
	   std::vector<uint64_t> &tickets)
{
	tickets.assign(asks.size(), 0);
	for (size_t k = 0; k < asks.size(); k++)
	{
		if (static_cast<int>(k) == skip)
			continue;

		Decision d = bucket_reserve(bucket, limits, asks[k].at, asks[k].tokens, INT64_MAX);

		if (d.outcome != Outcome::MustWait)
			return false;
		tickets[k] = d.ticket;
	}
	return true;
}

/* Cancel ask victim, move every other live ticket and mark the victim's 0; false if kept. */
bool
cancel(TokenBucket &bucket, const Limits &limits, int64_t now, const std::vector<Ask> &asks,
	   size_t victim, std::vector<uint64_t> &tickets)
{
	uint64_t gone = tickets[victim];

	if (!bucket_cancel_wait(bucket, limits, now, asks[victim].tokens, gone))
		return false;
	tickets[victim] = 0;
	for (uint64_t &ticket : tickets)
		if (ticket != 0)
			ticket = ticket_after_cancel(ticket, gone, asks[victim].tokens);
	return true;
}

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

	EXPECT_EQ(real.limits, twin.limits);
	EXPECT_EQ(real.level, twin.level);
	EXPECT_EQ(real.carry, twin.carry);
	EXPECT_EQ(real.updated_ns, twin.updated_ns);
	EXPECT_EQ(real.last_grant_ns, twin.last_grant_ns);
	EXPECT_EQ(real.granted, twin.granted);
	EXPECT_EQ(real.rejected, twin.rejected);
	EXPECT_EQ(real.reserved, twin.reserved);
	EXPECT_EQ(real.waiting, twin.waiting);
}

/* At 1/3 token/s, with a fraction in hand: a cancel restores level and remainder. */
TEST(QueueGap, CancelRestoresTheBucketExactly)
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

	EXPECT_TRUE(bucket_cancel_wait(real, limits, cancelled_at, 3, d.ticket));
	expect_same_bucket(real, twin, limits, cancelled_at);
}

/* Four waiters at 7 tokens/s, queued 10 ms apart; any single one of them gives up. */
const Limits kSevens = {20, per_second(7)};
const std::vector<Ask> kFour = {
	{kStart, 3}, {kStart + 10 * kMilli, 1}, {kStart + 20 * kMilli, 5}, {kStart + 30 * kMilli, 2}};

/* Whichever waiter leaves, the bucket and the tickets are the twin's that never had it. */
TEST(QueueGap, AnyCancelEqualsNeverReserving)
{
	for (int victim = 0; victim < 4; victim++)
	{
		TokenBucket real = empty_bucket(kSevens);
		TokenBucket twin = real;
		std::vector<uint64_t> tickets;
		std::vector<uint64_t> expected;

		ASSERT_TRUE(replay(real, kSevens, kFour, -1, tickets));
		ASSERT_TRUE(replay(twin, kSevens, kFour, victim, expected));
		ASSERT_TRUE(cancel(real, kSevens, kStart + 100 * kMilli, kFour, static_cast<size_t>(victim),
						   tickets));

		SCOPED_TRACE("cancelling reservation " + std::to_string(victim));
		EXPECT_EQ(tickets, expected);
		expect_same_bucket(real, twin, kSevens, kStart + 100 * kMilli);
	}
}

/*
 * The four waiters give up one by one, from the middle, the tail, the head
 * and the last one left, all before their tickets are due.  After each, the
 * bucket equals a twin that made only the reservations still standing.
 */
TEST(QueueGap, SuccessiveCancelsReturnEverything)
{
	const size_t order[] = {1, 3, 0, 2};
	TokenBucket real = empty_bucket(kSevens);
	const TokenBucket start = real;
	std::vector<uint64_t> tickets;

	ASSERT_TRUE(replay(real, kSevens, kFour, -1, tickets));
	for (size_t step = 0; step < 4; step++)
	{
		int64_t now = kStart + static_cast<int64_t>(step + 1) * 100 * kMilli;
		std::vector<Ask> standing;
		std::vector<uint64_t> expected;
		std::vector<uint64_t> left;
		TokenBucket twin = start;

		ASSERT_TRUE(cancel(real, kSevens, now, kFour, order[step], tickets)) << "step " << step;
		for (size_t k = 0; k < kFour.size(); k++)
			if (tickets[k] != 0)
			{
				standing.push_back(kFour[k]);
				left.push_back(tickets[k]);
			}
		ASSERT_TRUE(replay(twin, kSevens, standing, -1, expected));

		SCOPED_TRACE("after step " + std::to_string(step));
		EXPECT_EQ(left, expected);
		expect_same_bucket(real, twin, kSevens, now);
	}
	EXPECT_EQ(real.waiting, 0);
	EXPECT_EQ(bucket_peek(real, kSevens, kStart + kSecond).level, 7 * kToken);
}

/*
 * Random histories at uneven rates: after any mix of takes and reservations,
 * a few more reservations of which one, chosen at random, gives up before it
 * is due leave the bucket as the twin's that made all but that one.
 */
TEST(QueueGap, RandomHistoriesRestoreExactly)
{
	const Limits all[] = {
		{3, 333333333}, {10, per_second(7)}, {100, 142857143}, {1000, per_second(999983)}};
	Rng rng(2024);
	int checked = 0;

	for (int round = 0; round < 400; round++)
	{
		const Limits limits = all[round % 4];
		TokenBucket start;
		int64_t now = kStart;

		bucket_init(start, limits, now);
		for (int i = static_cast<int>(rng.between(0, 6)); i > 0; i--)
		{
			now += rng.between(0, time_to_earn(limits.rate, 2));
			if (rng.next() % 2 == 0)
				bucket_try_take(start, limits, now, rng.between(1, limits.capacity));
			else
				bucket_reserve(start, limits, now, rng.between(1, limits.capacity), INT64_MAX);
		}

		std::vector<Ask> asks;

		for (int64_t n = rng.between(1, 4); n > 0; n--)
		{
			now += rng.between(0, time_to_earn(limits.rate, 1) / 2);
			asks.push_back({now, rng.between(1, limits.capacity)});
		}

		TokenBucket real = start;
		TokenBucket twin = start;
		std::vector<uint64_t> tickets;
		std::vector<uint64_t> expected;
		size_t victim = static_cast<size_t>(rng.next() % asks.size());

		if (!replay(real, limits, asks, -1, tickets) ||
			!replay(twin, limits, asks, static_cast<int>(victim), expected))
			continue;

		int64_t wait = wait_on_copy(real, limits, now, tickets[victim]);

		if (wait == 0)
			continue;

		int64_t cancelled_at = rng.between(now, now + wait - 1);

		SCOPED_TRACE("round " + std::to_string(round));
		ASSERT_TRUE(cancel(real, limits, cancelled_at, asks, victim, tickets));
		EXPECT_EQ(tickets, expected);
		expect_same_bucket(real, twin, limits, cancelled_at + rng.between(0, kSecond));
		checked++;
	}
	EXPECT_GT(checked, 200);
}

/*
 * At 10 tokens/s, A reserves 3 tokens and B 2 behind it; at 0.1 s the rate
 * changes.  Their due times follow the new rate from the 4 tokens of debt
 * left then; once A gives up, B is due when one more token is earned, and
 * the bucket is as if only B had reserved.
 */
TEST(QueueGap, RateChangeWhileWaiting)
{
	const Limits before = {20, per_second(10)};
	const Limits after[] = {{20, per_second(20)}, {20, per_second(5)}, {20, 333333333}};
	const int64_t change = kStart + 100 * kMilli;
	const std::vector<Ask> asks = {{kStart, 3}, {kStart, 2}};

	for (const Limits &limits : after)
	{
		TokenBucket real = empty_bucket(before);
		TokenBucket twin = real;
		std::vector<uint64_t> tickets;
		std::vector<uint64_t> expected;

		SCOPED_TRACE("new rate " + std::to_string(limits.rate));
		ASSERT_TRUE(replay(real, before, asks, -1, tickets));
		ASSERT_TRUE(replay(twin, before, asks, 0, expected));
		EXPECT_EQ(wait_on_copy(real, limits, change, tickets[0]), time_to_earn(limits.rate, 2));
		EXPECT_EQ(wait_on_copy(real, limits, change, tickets[1]), time_to_earn(limits.rate, 4));

		ASSERT_TRUE(cancel(real, limits, change, asks, 0, tickets));
		EXPECT_EQ(wait_on_copy(real, limits, change, tickets[1]), time_to_earn(limits.rate, 1));
		EXPECT_EQ(tickets, expected);

		/* The twin switches at the same instant, B looking at its ticket. */
		EXPECT_EQ(bucket_ticket_wait(twin, limits, change, expected[1]),
				  time_to_earn(limits.rate, 1));
		expect_same_bucket(real, twin, limits, change);
	}
}

/*
 * At 10 tokens/s and capacity 20, drained at 0 s, a waiter reserves 8 tokens
 * at 0.5 s and gives up at 0.7 s under a new capacity.  A twin that never
 * reserved holds 7 tokens then, cut to the new capacity: so must the bucket.
 */
TEST(QueueGap, CapacityChangeWhileWaiting)
{
	const Limits before = {20, per_second(10)};
	const int64_t at = kStart + 700 * kMilli;

	for (int64_t capacity : {2, 5, 7, 40})
	{
		const Limits limits = {capacity, before.rate};
		TokenBucket real = empty_bucket(before);
		TokenBucket twin = real;
		Decision d = bucket_reserve(real, before, kStart + 500 * kMilli, 8, INT64_MAX);

		SCOPED_TRACE("new capacity " + std::to_string(capacity));
		ASSERT_EQ(d.outcome, Outcome::MustWait);
		ASSERT_EQ(d.ready_ns, kStart + 800 * kMilli);
		EXPECT_TRUE(bucket_cancel_wait(real, limits, at, 8, d.ticket));
		EXPECT_LE(real.level, capacity * kToken);

		/* A take of one token over capacity is refused, and switches the twin then too. */
		EXPECT_FALSE(bucket_try_take(real, limits, at, capacity + 1));
		EXPECT_FALSE(bucket_try_take(twin, limits, at, capacity + 1));
		expect_same_bucket(real, twin, limits, at);
		EXPECT_EQ(drain(real, limits, at), std::min<int64_t>(7, capacity));
	}
}

/*
 * Capacity 2, full, at 1/3 token/s: the core lets a reservation exceed the
 * capacity.  Reserving 3 and giving them back leaves exactly 2 tokens and no
 * remainder, as if nothing was asked.
 */
TEST(QueueGap, GiveBackStopsAtCapacity)
{
	const Limits limits = {2, 333333333};
	const int64_t cancelled_at = kStart + kSecond + 1;
	TokenBucket real;

	bucket_init(real, limits, kStart);

	TokenBucket twin = real;
	Decision d = bucket_reserve(real, limits, kStart, 3, INT64_MAX);

	ASSERT_EQ(d.ready_ns, kStart + time_to_earn(limits.rate, 1));
	EXPECT_TRUE(bucket_cancel_wait(real, limits, cancelled_at, 3, d.ticket));
	EXPECT_EQ(bucket_peek(real, limits, cancelled_at).level, 2 * kToken);
	expect_same_bucket(real, twin, limits, cancelled_at);
}

/*
 * The ticket counter runs modulo 2^64.  Started 2 tokens short of the wrap,
 * four waiters of 1, 2, 3 and 1 tokens straddle it; the second and then the
 * first give up, and the others' tickets and due times are as they would be
 * with the counter started at zero.
 */
TEST(QueueGap, TicketsCountModuloTwoToTheSixtyFour)
{
	const Limits limits = {20, per_second(10)};
	const uint64_t token = static_cast<uint64_t>(kToken);
	const std::vector<Ask> asks = {{kStart, 1}, {kStart, 2}, {kStart, 3}, {kStart, 1}};

	for (uint64_t offset : {UINT64_C(0), UINT64_C(0) - 2 * token})
	{
		TokenBucket bucket = empty_bucket(limits);
		std::vector<uint64_t> tickets;

		SCOPED_TRACE("counter started at " + std::to_string(offset));
		bucket.reserved = offset;
		ASSERT_TRUE(replay(bucket, limits, asks, -1, tickets));
		EXPECT_EQ(tickets, std::vector<uint64_t>({offset + token, offset + 3 * token,
												  offset + 6 * token, offset + 7 * token}));

		ASSERT_TRUE(cancel(bucket, limits, kStart + 50 * kMilli, asks, 1, tickets));
		ASSERT_TRUE(cancel(bucket, limits, kStart + 60 * kMilli, asks, 0, tickets));
		EXPECT_EQ(tickets, std::vector<uint64_t>({0, 0, offset + 3 * token, offset + 4 * token}));
		EXPECT_EQ(bucket.reserved, offset + 4 * token);

		EXPECT_EQ(wait_on_copy(bucket, limits, kStart + 60 * kMilli, tickets[2]), 240 * kMilli);
		EXPECT_EQ(wait_on_copy(bucket, limits, kStart + 60 * kMilli, tickets[3]), 340 * kMilli);
	}
}

} /* namespace */
