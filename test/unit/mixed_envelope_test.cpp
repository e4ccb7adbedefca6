/*
 * mixed_envelope_test.cpp
 *		The central invariant for runs that mix try_take, reserve (a
 *		reservation is granted at its ready_ns) and cancels, each passing the
 *		cancelled reservation's real ready_ns.
 *
 * Whoever cancels, from the back of the queue, from its middle or after the
 * slot has come, the grants keep the exact envelope.  A simple model of the
 * queue, kept by the test, says which cancels must give their tokens back:
 * those by the last reservation not yet given back, before its slot.
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
using hacienda::bucket_try_take;
using hacienda::deadline_after;
using hacienda::Decision;
using hacienda::Outcome;

struct Waiter
{
	int64_t slot;
	int64_t tokens;
	int64_t id; /* order of arrival */
};

/* Which waiters give up. */
enum class Cancels
{
	None,
	Newest, /* only the most recent waiter */
	Any     /* any waiter, mid-queue included, and some after their slot */
};

struct Mix
{
	int64_t rate;
	int64_t capacity;
	int64_t max_tokens;
	Spacing spacing;
	Cancels cancels;
	int steps;
};

const char *
cancels_name(Cancels cancels)
{
	switch (cancels)
	{
		case Cancels::None:
			return "nocancel";
		case Cancels::Newest:
			return "cancelnewest";
		case Cancels::Any:
			return "cancelany";
	}
	return "?";
}

/* A simulated run: requests, their grant times, and the bucket's own counters. */
class Simulation
{
public:
	explicit Simulation(const Mix &mix)
		: mix_(mix), limits_{mix.capacity, mix.rate},
		  rng_(static_cast<uint64_t>(mix.rate) * 131 + static_cast<uint64_t>(mix.spacing) * 7 +
			   static_cast<uint64_t>(mix.cancels))
	{
		bucket_init(bucket_, limits_, now_);
	}

	/*
	 * Waiters whose slot has come own their tokens from that slot on, unless
	 * (with Cancels::Any) they give up just after it, which returns nothing.
	 */
	void
	finish_due()
	{
		while (!waiters_.empty() && waiters_.front().slot <= now_)
		{
			if (mix_.cancels == Cancels::Any && rng_.next() % 8 == 0)
			{
				cancel_and_check(waiters_.front(), false);
				late_++;
			}
			else
			{
				bucket_finish_wait(bucket_, waiters_.front().slot);
				grants_.push_back({waiters_.front().slot, waiters_.front().tokens});
			}
			waiters_.pop_front();
		}
		while (!unreturned_.empty() && unreturned_.front() <= now_)
			unreturned_.pop_front();
	}

	/* Nothing is granted at once while a slot not given back is still to come. */
	void
	expect_no_debt(const char *what)
	{
		int64_t last = unreturned_.empty() ? now_ : unreturned_.back();

		EXPECT_LE(last, now_) << what << " granted at +" << now_ - kStart << " before the slot at +"
							  << last - kStart;
	}

	void
	try_take()
	{
		int64_t tokens = rng_.between(1, mix_.max_tokens);

		if (bucket_try_take(bucket_, limits_, now_, tokens))
		{
			expect_no_debt("try_take");
			grants_.push_back({now_, tokens});
		}
	}

	void
	reserve()
	{
		int64_t tokens = rng_.between(1, mix_.max_tokens);
		int64_t max_wait = pick_max_wait(tokens);
		Decision decision = bucket_reserve(bucket_, limits_, now_, tokens, max_wait);

		if (decision.outcome == Outcome::Granted)
		{
			expect_no_debt("reserve");
			grants_.push_back({now_, tokens});
		}
		else if (decision.outcome == Outcome::MustWait)
		{
			int64_t slot = decision.ready_ns;

			EXPECT_EQ(slot, deadline_after(now_, decision.wait_ns));

			/* First come, first served: behind every slot not given back, cancelled or not. */
			if (!unreturned_.empty())
			{
				EXPECT_GT(slot, unreturned_.back());
			}
			waiters_.push_back({slot, tokens, next_id_++});
			unreturned_.push_back(slot);
		}
		else
			EXPECT_GT(decision.wait_ns, max_wait);
	}

	/*
	 * Cancel a waiter with its real slot and check, through the level at now,
	 * that its tokens came back (up to capacity) exactly when the model says.
	 */
	void
	cancel_and_check(const Waiter &waiter, bool gives_back)
	{
		int64_t before = bucket_peek(bucket_, limits_, now_).level;
		int64_t expected = before;

		if (gives_back)
			expected = std::min(before + waiter.tokens * kToken, mix_.capacity * kToken);

		bucket_cancel_wait(bucket_, limits_, now_, waiter.tokens, waiter.slot);

		EXPECT_EQ(bucket_peek(bucket_, limits_, now_).level, expected)
			<< "waiter " << waiter.id << (gives_back ? " (tail)" : " (not tail)");
	}

	/* A waiter gives up before its slot; only the last reservation gets its tokens back. */
	void
	cancel()
	{
		if (waiters_.empty() || mix_.cancels == Cancels::None)
			return;

		size_t victim = static_cast<size_t>(rng_.next() % waiters_.size());

		if (mix_.cancels == Cancels::Newest)
			victim = waiters_.size() - 1;

		bool tail = waiters_[victim].slot == unreturned_.back();

		cancel_and_check(waiters_[victim], tail);
		if (tail)
		{
			unreturned_.pop_back();
			given_back_++;
		}
		else
			kept_++;
		waiters_.erase(waiters_.begin() + static_cast<std::ptrdiff_t>(victim));
	}

	/* About three times as many tokens requested as the gap earns, rounded at random. */
	int64_t
	calls_for(int64_t gap)
	{
		double earned = static_cast<double>(mix_.rate) * static_cast<double>(gap) / 1e18;
		double calls = 3.0 * earned * 2.0 / static_cast<double>(mix_.max_tokens + 1);
		double fraction = calls - static_cast<double>(static_cast<int64_t>(calls));
		int64_t whole = static_cast<int64_t>(calls);

		if (static_cast<double>(rng_.next() % 1000000) < fraction * 1e6)
			whole++;
		return std::min<int64_t>(whole, 50);
	}

	void
	step()
	{
		int64_t gap = next_gap(mix_.spacing, rng_);

		now_ += gap;
		finish_due();
		for (int64_t calls = calls_for(gap); calls > 0; calls--)
		{
			int64_t roll = rng_.between(0, 99);

			if (roll < 15)
				cancel();
			else if (roll < 55)
				try_take();
			else
				reserve();
		}
	}

	/* Let every remaining waiter reach its slot. */
	void
	finish_all()
	{
		if (!waiters_.empty())
			now_ = std::max(now_, waiters_.back().slot);
		finish_due();
	}

	int64_t
	pick_max_wait(int64_t tokens)
	{
		int64_t per_request = time_to_earn(mix_.rate, tokens);

		switch (rng_.next() % 4)
		{
			case 0:
				return 0;
			case 1:
				return rng_.between(0, 3 * per_request);
			case 2:
				return 20 * per_request;
			default:
				/* Unbounded waits, but not so many that the debt only grows. */
				return bucket_peek(bucket_, limits_, now_).retry_after_ns < 10 * per_request
						   ? INT64_MAX
						   : 20 * per_request;
		}
	}

	Mix mix_;
	Limits limits_;
	Rng rng_;
	TokenBucket bucket_;
	int64_t now_ = kStart;
	std::deque<Waiter> waiters_;     /* in slot order, which is arrival order */
	std::deque<int64_t> unreturned_; /* slots still to come, not given back */
	int64_t next_id_ = 0;
	int64_t given_back_ = 0; /* cancels by the tail */
	int64_t kept_ = 0;       /* cancels from mid-queue */
	int64_t late_ = 0;       /* cancels at or after the slot */
	std::vector<Grant> grants_;
};

class MixedEnvelope : public ::testing::TestWithParam<Mix>
{
};

/* Run a simulation to its end, checking the counters along the way. */
void
run(Simulation &sim)
{
	for (int step = 0; step < sim.mix_.steps; step++)
	{
		sim.step();
		ASSERT_EQ(sim.bucket_.waiting, static_cast<int32_t>(sim.waiters_.size()));
	}

	sim.finish_all();

	EXPECT_EQ(sim.bucket_.granted, sim.grants_.size());
	EXPECT_EQ(sim.bucket_.waiting, 0);
	EXPECT_GT(sim.grants_.size(), 50u);
	if (sim.mix_.cancels != Cancels::None)
	{
		EXPECT_GT(sim.given_back_, 10);
	}
	if (sim.mix_.cancels == Cancels::Any)
	{
		EXPECT_GT(sim.kept_, 10);
		EXPECT_GT(sim.late_, 5);
	}
	else
	{
		EXPECT_EQ(sim.kept_ + sim.late_, 0);
	}
}

/*
 * try_take, reserve and cancels interleaved never grant more than
 * capacity + rate * (b - a) over any [a, b], with no allowance for cancels.
 */
TEST_P(MixedEnvelope, NoWindowExceedsTheEnvelope)
{
	Simulation sim(GetParam());

	run(sim);

	EnvelopeCheck check = check_envelope(sim.grants_, sim.limits_);

	EXPECT_TRUE(check.ok) << "window [+" << check.from_ns - kStart << ", +" << check.to_ns - kStart
						  << "] ns over by " << static_cast<double>(check.excess) / 1e18
						  << " tokens";
}

/* Enough steps for several hundred tokens of refill in each run. */
const Mix kMixes[] = {
	{333333333, 3, 2, Spacing::Irregular, Cancels::None, 150000},
	{333333333, 3, 2, Spacing::ThirtySeven, Cancels::Newest, 50000},
	{333333333, 3, 2, Spacing::ThirtySeven, Cancels::Any, 50000},
	{per_second(7), 10, 4, Spacing::OneMilli, Cancels::None, 100000},
	{per_second(7), 10, 4, Spacing::OneMilli, Cancels::Newest, 100000},
	{per_second(7), 10, 4, Spacing::OneMilli, Cancels::Any, 100000},
	{per_second(10), 20, 5, Spacing::ThirtySeven, Cancels::None, 30000},
	{per_second(10), 20, 5, Spacing::ThirtySeven, Cancels::Newest, 30000},
	{per_second(10), 5, 5, Spacing::Irregular, Cancels::Newest, 60000},
	{per_second(10), 5, 5, Spacing::Irregular, Cancels::Any, 60000},
	{per_second(1000), 100, 30, Spacing::Irregular, Cancels::None, 30000},
	{per_second(1000), 100, 30, Spacing::Irregular, Cancels::Newest, 30000},
	{per_second(1000), 100, 30, Spacing::Irregular, Cancels::Any, 30000},
	{per_second(1000000), 3000, 1500, Spacing::OneMilli, Cancels::None, 30000},
	{per_second(1000000), 3000, 1500, Spacing::OneMilli, Cancels::Newest, 30000},
	{per_second(1000000), 3000, 1500, Spacing::OneMilli, Cancels::Any, 30000},
	{per_second(1000000), 50, 5, Spacing::Tight, Cancels::Newest, 1000000},
	{per_second(1000000), 50, 5, Spacing::Tight, Cancels::Any, 1000000},
};

INSTANTIATE_TEST_SUITE_P(Mixes, MixedEnvelope, ::testing::ValuesIn(kMixes),
						 [](const ::testing::TestParamInfo<Mix> &info)
						 {
							 return "rate" + std::to_string(info.param.rate) + "_" +
									spacing_name(info.param.spacing) + "_" +
									cancels_name(info.param.cancels);
						 });

} /* namespace */
