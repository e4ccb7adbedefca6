/*
 * token_bucket.cpp
 *		Exact token bucket arithmetic; see token_bucket.hpp.
 *
 * Intermediate products (elapsed time times rate) need up to 127 bits, so
 * they are computed in a local 128-bit integer.  Nothing 128-bit is stored:
 * the shared struct keeps only naturally aligned 64-bit fields.
 */
#include "token_bucket.hpp"

#include "no_postgres.hpp"

namespace hacienda
{

namespace
{

__extension__ typedef __int128 wide;

/*
 * The deepest debt a bucket may carry.  Reservations are bounded by the
 * longest timeout anyway; this keeps the level far from int64 overflow even
 * with extreme limits.
 */
constexpr int64_t kMinLevel = -(INT64_C(1) << 62);

int64_t
capacity_units(const Limits &limits)
{
	return limits.capacity * kUnitsPerToken;
}

int64_t
saturating_add(int64_t a, int64_t b)
{
	int64_t sum;

	if (__builtin_add_overflow(a, b, &sum))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return sum;
}

/* Clamp a wide value into int64 range. */
int64_t
clamp_to_int64(wide value)
{
	if (value > INT64_MAX)
		return INT64_MAX;
	if (value < INT64_MIN)
		return INT64_MIN;
	return static_cast<int64_t>(value);
}

/* Add gain nanotokens plus a new sub-nanotoken remainder, capped at capacity. */
void
add_earned(TokenBucket &bucket, wide gain, int64_t carry)
{
	int64_t room = capacity_units(bucket.limits) - bucket.level;

	if (gain >= room)
	{
		bucket.level = capacity_units(bucket.limits);
		bucket.carry = 0;
		return;
	}
	bucket.level += static_cast<int64_t>(gain);
	bucket.carry = carry;
}

/*
 * Bring the level up to now_ns under the bucket's current limits.  The stored
 * clock never moves backwards: a caller whose clock reading is older than the
 * bucket's is treated as arriving at the bucket's time.
 */
void
refill_to(TokenBucket &bucket, int64_t now_ns)
{
	int64_t elapsed;
	int64_t earned;

	if (now_ns <= bucket.updated_ns)
		return;
	if (__builtin_sub_overflow(now_ns, bucket.updated_ns, &elapsed))
		elapsed = INT64_MAX;
	bucket.updated_ns = now_ns;

	/* Short gaps fit in 64 bits, which divide far faster than 128. */
	if (!__builtin_mul_overflow(elapsed, bucket.limits.rate, &earned) &&
		!__builtin_add_overflow(earned, bucket.carry, &earned))
	{
		add_earned(bucket, earned / kNanosPerSecond, earned % kNanosPerSecond);
		return;
	}

	wide wide_earned = static_cast<wide>(elapsed) * bucket.limits.rate + bucket.carry;

	add_earned(bucket, wide_earned / kNanosPerSecond,
			   static_cast<int64_t>(wide_earned % kNanosPerSecond));
}

/*
 * Refill under the old limits up to now_ns, then switch to the new ones.  A
 * smaller capacity trims the level; a larger one adds nothing by itself.
 */
void
advance(TokenBucket &bucket, const Limits &limits, int64_t now_ns)
{
	refill_to(bucket, now_ns);
	if (bucket.limits == limits)
		return;

	bucket.limits = limits;
	if (bucket.level >= capacity_units(limits))
	{
		bucket.level = capacity_units(limits);
		bucket.carry = 0;
	}
}

/* Nanoseconds until the level reaches target (in nanotokens), or zero. */
int64_t
time_until_level(const TokenBucket &bucket, int64_t target)
{
	if (bucket.level >= target)
		return 0;

	wide deficit = static_cast<wide>(target - bucket.level) * kNanosPerSecond - bucket.carry;
	wide rate = bucket.limits.rate;

	return clamp_to_int64((deficit + rate - 1) / rate);
}

/*
 * How far ticket stands from the end of the queue, in nanotokens: what the
 * waiters behind it reserved.  Tickets count modulo 2^64.  A ticket not yet
 * due is never further from the end than the deepest debt (kMinLevel), so its
 * distance is exact; one further away than that must be long due, and is
 * reported as the deepest debt, which keeps it due however far the counter
 * has run on while its owner did not claim it.
 */
int64_t
behind_ticket(const TokenBucket &bucket, uint64_t ticket)
{
	uint64_t behind = bucket.reserved - ticket;

	if (behind > static_cast<uint64_t>(-kMinLevel))
		return -kMinLevel;
	return static_cast<int64_t>(behind);
}

/* The level at which the reservation holding ticket is paid for. */
int64_t
ticket_due_level(const TokenBucket &bucket, uint64_t ticket)
{
	return -behind_ticket(bucket, ticket);
}

void
note_grant(TokenBucket &bucket, int64_t now_ns)
{
	bucket.granted++;
	if (now_ns > bucket.last_grant_ns)
		bucket.last_grant_ns = now_ns;
}

} /* namespace */

void
bucket_init(TokenBucket &bucket, const Limits &limits, int64_t now_ns) noexcept
{
	bucket.limits = limits;
	bucket.level = capacity_units(limits);
	bucket.carry = 0;
	bucket.updated_ns = now_ns;
	bucket.last_grant_ns = INT64_MIN;
	bucket.granted = 0;
	bucket.rejected = 0;
	bucket.reserved = 0;
	bucket.waiting = 0;
}

bool
bucket_try_take(TokenBucket &bucket, const Limits &limits, int64_t now_ns, int64_t tokens) noexcept
{
	int64_t need = tokens * kUnitsPerToken;

	advance(bucket, limits, now_ns);
	if (bucket.level < need)
	{
		bucket.rejected++;
		return false;
	}

	bucket.level -= need;
	note_grant(bucket, bucket.updated_ns);
	return true;
}

Decision
bucket_reserve(TokenBucket &bucket, const Limits &limits, int64_t now_ns, int64_t tokens,
			   int64_t max_wait_ns) noexcept
{
	int64_t need = tokens * kUnitsPerToken;
	int64_t wait_ns;
	int64_t ready_ns;

	advance(bucket, limits, now_ns);

	/* Enough tokens now: an ordinary grant. */
	if (bucket.level >= need)
	{
		bucket.level -= need;
		note_grant(bucket, bucket.updated_ns);
		return {Outcome::Granted, 0, bucket.updated_ns, 0};
	}

	/* Otherwise the caller's slot is when the refill has covered it. */
	wait_ns = time_until_level(bucket, need);
	ready_ns = deadline_after(bucket.updated_ns, wait_ns);
	if (wait_ns > max_wait_ns || bucket.level - need < kMinLevel)
	{
		bucket.rejected++;
		return {Outcome::Refused, wait_ns, ready_ns, 0};
	}

	bucket.level -= need;
	bucket.reserved += static_cast<uint64_t>(need);
	bucket.waiting++;
	return {Outcome::MustWait, wait_ns, ready_ns, bucket.reserved};
}

int64_t
bucket_ticket_wait(TokenBucket &bucket, const Limits &limits, int64_t now_ns,
				   uint64_t ticket) noexcept
{
	advance(bucket, limits, now_ns);
	return time_until_level(bucket, ticket_due_level(bucket, ticket));
}

void
bucket_finish_wait(TokenBucket &bucket, int64_t now_ns) noexcept
{
	if (bucket.waiting > 0)
		bucket.waiting--;
	note_grant(bucket, now_ns);
}

bool
bucket_cancel_wait(TokenBucket &bucket, const Limits &limits, int64_t now_ns, int64_t tokens,
				   uint64_t ticket) noexcept
{
	int64_t need = tokens * kUnitsPerToken;
	int64_t ceiling;

	advance(bucket, limits, now_ns);
	if (bucket.waiting > 0)
		bucket.waiting--;

	/* Once due, the slot has passed: the tokens are spent. */
	if (bucket.level >= ticket_due_level(bucket, ticket))
		return false;

	/*
	 * Not yet due, so the level is below zero and the debt includes these
	 * tokens.  Without them the bucket is as if they had never been reserved,
	 * and the tickets behind move up by need (ticket_after_cancel).  If the
	 * capacity shrank since the reservation, the level may not rise above
	 * the new capacity less what the waiters behind still owe: they will be
	 * served from it, as they would have been without this reservation.
	 */
	ceiling = capacity_units(bucket.limits) - behind_ticket(bucket, ticket);
	bucket.reserved -= static_cast<uint64_t>(need);
	if (need >= ceiling - bucket.level)
	{
		bucket.level = ceiling;
		bucket.carry = 0;
	}
	else
		bucket.level += need;
	return true;
}

uint64_t
ticket_after_cancel(uint64_t ticket, uint64_t cancelled, int64_t tokens) noexcept
{
	if (static_cast<int64_t>(ticket - cancelled) <= 0)
		return ticket;
	return ticket - static_cast<uint64_t>(tokens * kUnitsPerToken);
}

void
bucket_switch_limits(TokenBucket &bucket, const Limits &limits, int64_t now_ns) noexcept
{
	advance(bucket, limits, now_ns);
}

void
bucket_refill(TokenBucket &bucket, const Limits &limits, int64_t now_ns) noexcept
{
	advance(bucket, limits, now_ns);
	bucket.level = capacity_units(bucket.limits);
	bucket.carry = 0;
}

Snapshot
bucket_peek(const TokenBucket &bucket, const Limits &limits, int64_t now_ns) noexcept
{
	TokenBucket view = bucket;

	advance(view, limits, now_ns);
	return {view.level, time_until_level(view, kUnitsPerToken),
			time_until_level(view, capacity_units(view.limits))};
}

int64_t
bucket_wait_for(const TokenBucket &bucket, const Limits &limits, int64_t now_ns,
				int64_t tokens) noexcept
{
	TokenBucket view = bucket;

	advance(view, limits, now_ns);
	return time_until_level(view, tokens * kUnitsPerToken);
}

bool
bucket_is_idle(const TokenBucket &bucket, const Limits &limits, int64_t now_ns) noexcept
{
	TokenBucket view = bucket;

	advance(view, limits, now_ns);
	return view.waiting == 0 && view.level == capacity_units(view.limits);
}

/* Exported for callers that add a wait to a clock reading. */
int64_t
deadline_after(int64_t now_ns, int64_t wait_ns) noexcept
{
	return saturating_add(now_ns, wait_ns);
}

} /* namespace hacienda */
