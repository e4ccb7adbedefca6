/*
 * demand_test.cpp
 *		Under constant demand, served by a mix of try_take, reserve and
 *		cancels, the grants never exceed the exact envelope.  With one waiter
 *		at a time, whose cancels are all by the tail, the grants up to any
 *		time T are also at least capacity + rate * T - 1.  With a queue whose
 *		waiters give up anywhere, abandoned slots may lower that; what holds
 *		is that every token earned is granted, promised or in such a slot.
 */
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <vector>

#include "test_support.hpp"

namespace
{

using namespace hacienda_test;
using hacienda::bucket_cancel_wait;
using hacienda::bucket_finish_wait;
using hacienda::bucket_init;
using hacienda::bucket_peek;
using hacienda::bucket_reserve;
using hacienda::Decision;
using hacienda::Outcome;

/* Who waits, and who gives up. */
enum class Queue
{
	One, /* a single waiter at a time; it may give up before its slot */
	Many /* up to four; any may give up, from mid-queue or after its slot */
};

struct Demand
{
	int64_t rate;
	int64_t capacity;
	Spacing spacing;
	Queue queue;
	int steps;
};

class ConstantDemand : public ::testing::TestWithParam<Demand>
{
};

/* x * 10^18 > capacity * 10^18 + rate * elapsed, i.e. x > capacity + rate * T. */
bool
above_supply(int64_t x, const Limits &limits, int64_t elapsed)
{
	return static_cast<i128>(x) * kE18 >
		   static_cast<i128>(limits.capacity) * kE18 + static_cast<i128>(limits.rate) * elapsed;
}

/* True with probability p, to a millionth. */
bool
chance(Rng &rng, double p)
{
	return static_cast<double>(rng.next() % 1000000) < p * 1e6;
}

/*
 * Every step someone is asking: either the bucket was just drained by
 * try_take, or someone holds a reservation.  Waiters give up now and then,
 * each passing its real slot.  Requests are for one token each.  A model of
 * the queue says which cancels must return their token: those by the last
 * reservation not given back, before its slot; the level at the cancel
 * tells whether the bucket agreed.
 */
TEST_P(ConstantDemand, GrantsKeepUpWithTheRefill)
{
	const Demand demand = GetParam();
	const Limits limits = {demand.capacity, demand.rate};
	const bool many = demand.queue == Queue::Many;
	Rng rng(static_cast<uint64_t>(demand.rate) * 3 + static_cast<uint64_t>(demand.spacing) +
			(many ? 1000 : 0));
	TokenBucket bucket;
	std::vector<Grant> grants;
	std::deque<int64_t> waiters;    /* slots of live reservations */
	std::deque<int64_t> unreturned; /* slots to come, not given back, live or abandoned */
	int64_t now = kStart;
	int64_t total = 0;     /* tokens granted */
	int64_t abandoned = 0; /* tokens whose slots were given up but not returned */
	int given_back = 0;
	double earned = 0; /* tokens earned in the last gap, roughly */

	/* Cancel the waiter with this slot; the level must rise by one token iff it is the tail. */
	auto cancel = [&](int64_t slot)
	{
		bool tail = slot > now && !unreturned.empty() && slot == unreturned.back();
		int64_t before = bucket_peek(bucket, limits, now).level;

		bucket_cancel_wait(bucket, limits, now, 1, slot);

		ASSERT_EQ(bucket_peek(bucket, limits, now).level, before + (tail ? kToken : 0))
			<< "slot +" << slot - kStart << " at +" << now - kStart;
		if (tail)
		{
			unreturned.pop_back();
			given_back++;
		}
		else
			abandoned++;
	};

	bucket_init(bucket, limits, now);

	for (int step = 0; step < demand.steps; step++)
	{
		while (!waiters.empty() && waiters.front() <= now)
		{
			if (many && rng.next() % 8 == 0)
				cancel(waiters.front());
			else
			{
				bucket_finish_wait(bucket, waiters.front());
				grants.push_back({waiters.front(), 1});
				total++;
			}
			waiters.pop_front();
		}
		while (!unreturned.empty() && unreturned.front() <= now)
			unreturned.pop_front();

		/* With a queue, about one cancel for every two tokens earned, so some are served. */
		if (!waiters.empty() && (many ? chance(rng, earned / 2) : rng.next() % 8 == 0))
		{
			size_t victim = many ? static_cast<size_t>(rng.next() % waiters.size()) : 0;

			cancel(waiters[victim]);
			waiters.erase(waiters.begin() + static_cast<std::ptrdiff_t>(victim));
		}
		ASSERT_FALSE(HasFatalFailure()) << "step " << step;

		if (waiters.empty() && rng.next() % 2 == 0)
		{
			int64_t got = drain(bucket, limits, now);

			grants.push_back({now, got});
			total += got;
		}
		else if (waiters.empty() || (many && waiters.size() < 4 && chance(rng, earned)))
		{
			Decision d;

			while ((d = bucket_reserve(bucket, limits, now, 1, INT64_MAX)).outcome ==
				   Outcome::Granted)
			{
				grants.push_back({now, 1});
				total++;
			}
			ASSERT_EQ(d.outcome, Outcome::MustWait);
			ASSERT_TRUE(unreturned.empty() || d.ready_ns > unreturned.back());
			waiters.push_back(d.ready_ns);
			unreturned.push_back(d.ready_ns);
		}

		/* Tokens granted, promised to a live waiter, or in an abandoned slot. */
		int64_t accounted = total + static_cast<int64_t>(waiters.size()) + abandoned;

		ASSERT_TRUE(above_supply(accounted + 1, limits, now - kStart)) << "step " << step;
		if (!many)
		{
			ASSERT_TRUE(above_supply(total + 1, limits, now - kStart)) << "step " << step;
		}

		int64_t gap = next_gap(demand.spacing, rng);

		now += gap;
		earned = static_cast<double>(limits.rate) * static_cast<double>(gap) / 1e18;
	}

	EXPECT_TRUE(check_envelope(grants, limits).ok);
	EXPECT_GT(given_back, 10);
	if (many)
	{
		EXPECT_GT(abandoned, 10);
	}
	else
	{
		EXPECT_EQ(abandoned, 0);
	}
}

/* Capacities hold more than one gap's earnings, so the bucket never overflows unseen. */
const Demand kDemands[] = {
	{10000000, 2, Spacing::ThirtySeven, Queue::One, 300000},
	{10000000, 2, Spacing::ThirtySeven, Queue::Many, 300000},
	{333333333, 3, Spacing::Irregular, Queue::One, 100000},
	{333333333, 3, Spacing::Irregular, Queue::Many, 100000},
	{per_second(7), 10, Spacing::OneMilli, Queue::One, 100000},
	{per_second(7), 10, Spacing::OneMilli, Queue::Many, 100000},
	{per_second(10), 20, Spacing::Irregular, Queue::One, 100000},
	{per_second(10), 20, Spacing::Irregular, Queue::Many, 100000},
	{per_second(1000), 200, Spacing::Irregular, Queue::One, 30000},
	{per_second(1000), 200, Spacing::Irregular, Queue::Many, 30000},
	{per_second(1000000), 200, Spacing::Tight, Queue::One, 300000},
	{per_second(1000000), 200, Spacing::Tight, Queue::Many, 300000},
};

INSTANTIATE_TEST_SUITE_P(Demands, ConstantDemand, ::testing::ValuesIn(kDemands),
						 [](const ::testing::TestParamInfo<Demand> &info)
						 {
							 return "rate" + std::to_string(info.param.rate) + "_" +
									spacing_name(info.param.spacing) +
									(info.param.queue == Queue::Many ? "_queue" : "_one");
						 });

} /* namespace */
