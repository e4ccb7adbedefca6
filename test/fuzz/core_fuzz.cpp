/*
 * core_fuzz.cpp
 *		libFuzzer target: arbitrary sequences of calls, clock steps and limits
 *		against the token bucket core, checked after every operation.
 *
 * An input decodes (fuzz_input.hpp) into a start time, a starting ticket
 * counter, four sets of limits and at most kMaxOps operations.  Calls usually
 * pass the bucket's own limits and the harness clock, sometimes one of the
 * other sets of limits or a stale reading that goes backwards.  The model
 * (fuzz_model.hpp) follows the waiters and the grants.
 *
 * What must hold; anything else prints a line to stderr and aborts:
 *   - the level never exceeds capacity, stays far from int64 overflow, and is
 *     below zero exactly while some waiter is not yet due; the carry stays in
 *     [0, 10^9); a refusal changes nothing but a counter;
 *   - the stored clock is the latest reading passed in: never backwards;
 *   - in every window the grants stay within capacity + rate * T, compared
 *     exactly by check_envelope, per segment between limit changes and
 *     resets (a reset lifts the limit by design);
 *   - waiters become due in arrival order, exactly when their wait said,
 *     and stay due; nothing is granted at once while a waiter is not yet due;
 *   - tickets, and the waiting, reserved, granted and rejected counters,
 *     agree with the model; peeks agree with one another and change nothing;
 *   - no arithmetic overflows: the target is built with UBSan, which aborts.
 */
#include <algorithm>
#include <cstdint>

#include "fuzz_input.hpp"
#include "fuzz_model.hpp"
#include "token_bucket.hpp"

namespace
{

using namespace hacienda;
using namespace hacienda_fuzz;
using hacienda_test::wait_on_copy;

/* Bounds that keep every input fast. */
constexpr int kMaxOps = 2000;
constexpr size_t kMaxWaiters = 6000;
constexpr int kMaxBurst = 128;

enum class Op : uint8_t
{
	Step,
	TryTake,
	Reserve,
	Burst,
	Cancel,
	Poll,
	Finish,
	Switch,
	Refill,
	Peek,
	Count
};

/* One run over one input. */
class Harness
{
public:
	explicit Harness(Input &in) : in_(in), m_(decode_header(in, limits_))
	{
	}

	/* Decode and run operations until the input or the budget runs out. */
	void
	run()
	{
		for (int op = 0; op < kMaxOps && !in_.exhausted(); op++)
		{
			switch (static_cast<Op>(in_.byte() % static_cast<int>(Op::Count)))
			{
				case Op::Step:
					m_.step(decode_step(in_));
					break;
				case Op::TryTake:
					try_take();
					break;
				case Op::Reserve:
					reserve(1);
					break;
				case Op::Burst:
					reserve(1 + in_.byte() % kMaxBurst);
					break;
				case Op::Cancel:
					cancel();
					break;
				case Op::Poll:
					poll();
					break;
				case Op::Finish:
					finish();
					break;
				case Op::Switch:
					change_limits(false);
					break;
				case Op::Refill:
					change_limits(true);
					break;
				default:
					peek();
					break;
			}
			m_.check_state();
		}
		m_.check_segment();
	}

private:
	/* An input starts with the start time, the ticket counter and four sets of limits. */
	static Model
	decode_header(Input &in, Limits (&limits)[4])
	{
		int64_t start = decode_start(in);
		uint64_t first_ticket = decode_reserved(in);

		for (Limits &one : limits)
			one = decode_limits(in);
		return Model(limits[0], start, first_ticket);
	}

	/* Usually the bucket's own limits, sometimes one of the four sets. */
	Limits
	pick_limits()
	{
		uint8_t choice = in_.byte();

		return choice < 160 ? m_.segment_limits : limits_[choice % 4];
	}

	/*
	 * Usually the harness clock, sometimes a stale reading behind it.  Before a
	 * stale one, another caller brings the bucket up to the harness clock, so
	 * the reading really goes backwards and any due time counts from now.
	 */
	int64_t
	pick_reading()
	{
		if (in_.byte() % 8 != 0)
			return m_.now;

		bucket_switch_limits(m_.bucket, m_.bucket.limits, m_.now);
		m_.note_reading(m_.now);

		uint64_t lag = decode_lag(in_);
		uint64_t room = static_cast<uint64_t>(m_.now) - static_cast<uint64_t>(INT64_MIN);

		if (lag >= room)
			return INT64_MIN;
		return static_cast<int64_t>(static_cast<uint64_t>(m_.now) - lag);
	}

	/* What a new waiter will do once due: mostly claim its tokens. */
	Fate
	pick_fate()
	{
		uint8_t roll = in_.byte() % 8;

		return roll < 6 ? Fate::Claim : roll == 6 ? Fate::GiveUp : Fate::Linger;
	}

	/* A caller takes tokens if they are there, never ahead of a waiter not yet due. */
	void
	try_take()
	{
		Limits limits = pick_limits();
		int64_t reading = pick_reading();
		int64_t tokens = decode_tokens(in_, limits.capacity);

		if (!tokens_accepted(tokens, limits.capacity))
			return;

		m_.enter(limits);

		TokenBucket before = m_.advanced_copy(limits, reading);
		bool granted = bucket_try_take(m_.bucket, limits, reading, tokens);

		m_.note_reading(reading);
		if (granted)
		{
			FUZZ_REQUIRE(!m_.blocked());
			FUZZ_REQUIRE(m_.bucket.level == before.level - tokens * kUnitsPerToken);
			m_.granted++;
			m_.grants.push_back({m_.bucket.updated_ns, tokens});
			return;
		}
		m_.rejected++;
		before.rejected++;
		FUZZ_REQUIRE(before.level < tokens * kUnitsPerToken);
		FUZZ_REQUIRE(same_state(m_.bucket, before));
	}

	/*
	 * Callers take tokens now or reserve them, count times with the same
	 * request.  A reservation is due after every waiter already queued, and
	 * its ticket is the model's own count of nanotokens reserved.
	 */
	void
	reserve(int count)
	{
		Limits limits = pick_limits();
		int64_t reading = pick_reading();
		int64_t tokens = decode_tokens(in_, limits.capacity);
		int64_t max_wait = decode_max_wait(in_);
		Fate fate = pick_fate();

		if (!tokens_accepted(tokens, limits.capacity) || m_.live.size() >= kMaxWaiters)
			return;

		int64_t need = tokens * kUnitsPerToken;

		m_.enter(limits);
		for (int n = 0; n < count && m_.live.size() < kMaxWaiters; n++)
		{
			TokenBucket before = m_.advanced_copy(limits, reading);
			bool blocked = m_.blocked();
			int64_t tail =
				blocked ? wait_on_copy(m_.bucket, limits, reading, m_.live.back().ticket) : -1;
			Decision d = bucket_reserve(m_.bucket, limits, reading, tokens, max_wait);

			m_.note_reading(reading);
			if (d.outcome == Outcome::Granted)
			{
				FUZZ_REQUIRE(!blocked && before.level >= need);
				FUZZ_REQUIRE(d.wait_ns == 0 && d.ready_ns == m_.bucket.updated_ns);
				m_.granted++;
				m_.grants.push_back({m_.bucket.updated_ns, tokens});
			}
			else if (d.outcome == Outcome::MustWait)
			{
				m_.reserved += static_cast<uint64_t>(need);
				FUZZ_REQUIRE(before.level < need && m_.bucket.level == before.level - need);
				FUZZ_REQUIRE(d.wait_ns > 0 && d.wait_ns <= max_wait);
				FUZZ_REQUIRE(d.wait_ns > tail || tail == kForeverNs);
				FUZZ_REQUIRE(d.ready_ns == deadline_after(m_.bucket.updated_ns, d.wait_ns));
				FUZZ_REQUIRE(d.ticket == m_.reserved);
				FUZZ_REQUIRE(wait_on_copy(m_.bucket, limits, reading, d.ticket) == d.wait_ns);
				m_.live.push_back({d.ticket, m_.reserved, tokens, m_.segment, fate, false});
			}
			else
			{
				m_.rejected++;
				before.rejected++;
				FUZZ_REQUIRE(same_state(m_.bucket, before));
				FUZZ_REQUIRE(d.wait_ns > max_wait || before.level - need < INT64_MIN / 2);
			}
		}
		m_.settle();
	}

	/*
	 * Any live waiter gives up.  Before it is due its tokens come back, capped
	 * at the capacity less what the waiters behind still owe, and every other
	 * ticket goes through ticket_after_cancel; the model moves those that
	 * arrived later up by as many.
	 */
	void
	cancel()
	{
		if (m_.live.empty())
			return;

		size_t victim = static_cast<size_t>(in_.bits(2) % m_.live.size());
		Limits limits = pick_limits();
		int64_t reading = pick_reading();
		Waiter gone = m_.live[victim];
		int64_t need = gone.tokens * kUnitsPerToken;

		m_.enter(limits);
		m_.live.erase(m_.live.begin() + static_cast<std::ptrdiff_t>(victim));
		if (gone.due)
		{
			m_.lingering--;
			m_.late_cancel(gone, limits, reading);
			m_.settle();
			return;
		}

		TokenBucket before = m_.advanced_copy(limits, reading);
		int64_t behind = static_cast<int64_t>(m_.reserved - gone.model);

		FUZZ_REQUIRE(bucket_cancel_wait(m_.bucket, limits, reading, gone.tokens, gone.ticket));
		m_.note_reading(reading);
		FUZZ_REQUIRE(m_.bucket.level ==
					 std::min(before.level + need, capacity_units(limits) - behind));

		m_.reserved -= static_cast<uint64_t>(need);
		for (size_t k = 0; k < m_.live.size(); k++)
		{
			Waiter &w = m_.live[k];

			w.ticket = ticket_after_cancel(w.ticket, gone.ticket, gone.tokens);
			if (k >= victim)
				w.model -= static_cast<uint64_t>(need);
			FUZZ_REQUIRE(w.ticket == w.model);
		}
		m_.settle();
	}

	/* Any waiter asks about its ticket, perhaps with other limits or a stale reading. */
	void
	poll()
	{
		if (m_.live.empty())
			return;

		size_t k = static_cast<size_t>(in_.bits(2) % m_.live.size());
		Limits limits = pick_limits();
		int64_t reading = pick_reading();

		m_.enter(limits);

		int64_t wait = bucket_ticket_wait(m_.bucket, limits, reading, m_.live[k].ticket);

		m_.note_reading(reading);
		FUZZ_REQUIRE((wait == 0) == m_.live[k].due);
		m_.settle();
	}

	/* A lingering waiter finally claims the tokens that were its own since it was due. */
	void
	finish()
	{
		if (m_.lingering == 0)
			return;

		size_t k = static_cast<size_t>(in_.bits(2) % m_.lingering);

		bucket_finish_wait(m_.bucket, m_.now);
		m_.granted++;
		m_.live.erase(m_.live.begin() + static_cast<std::ptrdiff_t>(k));
		m_.lingering--;
	}

	/* Switch limits, or reset to full under them, which makes every waiter due at once. */
	void
	change_limits(bool reset)
	{
		Limits limits = pick_limits();
		int64_t reading = pick_reading();

		if (reset)
		{
			m_.new_segment(limits);
			bucket_refill(m_.bucket, limits, reading);
			FUZZ_REQUIRE(m_.bucket.level == capacity_units(limits) && m_.bucket.carry == 0);
		}
		else
		{
			m_.enter(limits);
			bucket_switch_limits(m_.bucket, limits, reading);
		}
		m_.note_reading(reading);
		m_.settle();
		FUZZ_REQUIRE(!reset || !m_.blocked());
	}

	/* A caller looks without touching; the model checks what it sees. */
	void
	peek()
	{
		Limits limits = pick_limits();
		int64_t reading = pick_reading();
		int64_t tokens = decode_tokens(in_, limits.capacity);

		m_.check_peek(limits, reading, tokens);
	}

	Input &in_;
	Limits limits_[4]; /* before m_, which is made while they are decoded */
	Model m_;
};

} /* namespace */

/* The libFuzzer entry point. */
extern "C" int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Input in(data, size);
	Harness harness(in);

	harness.run();
	return 0;
}
