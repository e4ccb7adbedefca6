/*
 * fuzz_input.hpp
 *		Turns the fuzzer's bytes into the values the core harness passes in.
 *
 * Bytes are read from the front, multi-byte values little-endian; once the
 * input runs out every read returns zero, so any byte string decodes to
 * something.  Each decoder starts with a mode byte that mixes the extremes
 * (zero, one, the bounds, values near INT64_MAX) with values spread over
 * the whole range, so short inputs reach the corners quickly.
 *
 * Limits and timeouts only ever come out of the core's own validation
 * (make_limits, timeout_to_ns), as they do in the extension; a value the
 * validation refuses is checked to be really out of bounds, then replaced.
 */
#ifndef HACIENDA_FUZZ_INPUT_HPP
#define HACIENDA_FUZZ_INPUT_HPP

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "limits.hpp"

namespace hacienda_fuzz
{

/* Report a broken property and stop; libFuzzer saves the input that did it. */
[[noreturn]] inline void
violated(const char *what, int line)
{
	std::fprintf(stderr, "core_fuzz: violated at line %d: %s\n", line, what);
	std::abort();
}

#define FUZZ_REQUIRE(cond) ((cond) ? (void)0 : hacienda_fuzz::violated(#cond, __LINE__))

/* A cursor over the input bytes. */
class Input
{
public:
	Input(const uint8_t *data, size_t size) : data_(data), size_(size)
	{
	}

	/* Whether every byte has been read. */
	bool
	exhausted() const
	{
		return pos_ >= size_;
	}

	/* The next byte, or zero past the end. */
	uint8_t
	byte()
	{
		return pos_ < size_ ? data_[pos_++] : 0;
	}

	/* An unsigned value of the given number of bytes (1 .. 8). */
	uint64_t
	bits(int bytes)
	{
		uint64_t value = 0;

		for (int k = 0; k < bytes; k++)
			value |= static_cast<uint64_t>(byte()) << (8 * k);
		return value;
	}

	/* Any double at all, NaN and infinities included. */
	double
	real()
	{
		uint64_t raw = bits(8);
		double value;

		std::memcpy(&value, &raw, sizeof value);
		return value;
	}

private:
	const uint8_t *data_;
	size_t size_;
	size_t pos_ = 0;
};

/* Where the clock starts: an ordinary time, zero, anything, or near its end. */
inline int64_t
decode_start(Input &in)
{
	uint8_t mode = in.byte();

	switch (mode % 4)
	{
		case 0:
			return INT64_C(5000000000000);
		case 1:
			return 0;
		case 2:
			return static_cast<int64_t>(in.bits(8));
		default:
			return INT64_MAX - static_cast<int64_t>(in.bits(4));
	}
}

/* Where the ticket counter starts, often just short of its wrap. */
inline uint64_t
decode_reserved(Input &in)
{
	uint8_t mode = in.byte();

	switch (mode % 3)
	{
		case 0:
			return 0;
		case 1:
			return UINT64_C(0) - in.bits(6);
		default:
			return in.bits(8);
	}
}

/* A capacity in whole tokens, sometimes out of bounds on purpose. */
inline int64_t
decode_capacity(Input &in)
{
	uint8_t mode = in.byte();

	switch (mode % 5)
	{
		case 0:
			return 1 + mode / 5 % 16;
		case 1:
			return hacienda::kMaxCapacity - mode / 5 % 3;
		case 2:
			return 1 + static_cast<int64_t>(in.bits(4) % hacienda::kMaxCapacity);
		case 3:
			return 1 + static_cast<int64_t>(in.bits(2));
		default:
			return static_cast<int64_t>(in.bits(8));
	}
}

/* A rate in tokens per second: the bounds, tiny and round ones, log-spread, or raw. */
inline double
decode_per_second(Input &in)
{
	uint8_t mode = in.byte();
	double spread;

	switch (mode % 7)
	{
		case 0:
			return hacienda::kMinRate;
		case 1:
			return hacienda::kMaxRate;
		case 2:
			return 1 + mode / 7;
		case 3:
			/* Fractions such as 1/3 or 2/7 that no decimal rate states exactly. */
			return (1.0 + in.byte()) / (1.0 + in.byte());
		case 4:
			spread = static_cast<double>(in.bits(4)) / 4294967296.0;
			return hacienda::kMinRate * std::pow(hacienda::kMaxRate / hacienda::kMinRate, spread);
		case 5:
			/* Just inside or just outside either bound. */
			return std::nextafter(mode & 8 ? hacienda::kMinRate : hacienda::kMaxRate,
								  mode & 16 ? 0.0 : 2e6);
		default:
			return in.real();
	}
}

/*
 * Limits through make_limits.  A refusal must be of a value out of bounds;
 * an acceptance must be within them and survive the trip through the state
 * file, which stores the rate in nanotokens and checks it back in per second.
 */
inline hacienda::Limits
decode_limits(Input &in)
{
	int64_t capacity = decode_capacity(in);
	double per_second = decode_per_second(in);
	bool in_bounds = capacity >= 1 && capacity <= hacienda::kMaxCapacity &&
					 per_second >= hacienda::kMinRate && per_second <= hacienda::kMaxRate;
	hacienda::Limits limits;
	hacienda::Limits again;

	FUZZ_REQUIRE(hacienda::make_limits(capacity, per_second, &limits) == in_bounds);
	if (!in_bounds)
	{
		/* Fall back to limits in bounds, through the same door. */
		capacity = 1 + static_cast<int64_t>(static_cast<uint64_t>(capacity) % 16);
		FUZZ_REQUIRE(hacienda::make_limits(capacity, 1.0, &limits));
		return limits;
	}

	FUZZ_REQUIRE(limits.capacity == capacity);
	FUZZ_REQUIRE(limits.rate >= 1000000 && limits.rate <= INT64_C(1000000000000000));
	FUZZ_REQUIRE(
		hacienda::make_limits(capacity, hacienda::rate_to_per_second(limits.rate), &again) &&
		again == limits);
	return limits;
}

/* How far a clock step moves time forward: zero, tiny, ordinary or huge. */
inline int64_t
decode_step(Input &in)
{
	uint8_t mode = in.byte();

	switch (mode % 8)
	{
		case 0:
			return 0;
		case 1:
			return 1 + mode / 8 % 16;
		case 2:
			return static_cast<int64_t>(in.bits(2));
		case 3:
			return static_cast<int64_t>(in.bits(4));
		case 4:
			return static_cast<int64_t>(in.bits(2)) * 1000000;
		case 5:
			return static_cast<int64_t>(in.bits(3)) * 1000000000;
		case 6:
			return INT64_MAX >> (mode / 8 % 64);
		default:
			return static_cast<int64_t>(in.bits(8) >> 1);
	}
}

/* How far behind the harness clock a stale reading lags. */
inline uint64_t
decode_lag(Input &in)
{
	uint8_t mode = in.byte();

	switch (mode % 4)
	{
		case 0:
			return 1;
		case 1:
			return in.bits(2);
		case 2:
			return in.bits(4) * 1000;
		default:
			return in.bits(8);
	}
}

/* A token count for a bucket of this capacity; some are invalid on purpose. */
inline int64_t
decode_tokens(Input &in, int64_t capacity)
{
	uint8_t mode = in.byte();

	switch (mode % 6)
	{
		case 0:
			return 1;
		case 1:
			return capacity;
		case 2:
			return 1 + static_cast<int64_t>(in.bits(4) % static_cast<uint64_t>(capacity));
		case 3:
			return 1 + mode / 6 % 8;
		case 4:
			return mode & 8 ? capacity + 1 : 0;
		default:
			return static_cast<int64_t>(in.bits(8));
	}
}

/* Whether check_tokens accepts tokens, having judged them as the bounds say. */
inline bool
tokens_accepted(int64_t tokens, int64_t capacity)
{
	hacienda::TokensCheck check = hacienda::check_tokens(tokens, capacity);

	FUZZ_REQUIRE((check == hacienda::TokensCheck::BelowOne) == (tokens < 1));
	FUZZ_REQUIRE((check == hacienda::TokensCheck::AboveCapacity) ==
				 (tokens >= 1 && tokens > capacity));
	return check == hacienda::TokensCheck::Ok;
}

/*
 * A maximum wait in nanoseconds: none, forever, the longest timeout, or
 * whatever timeout_to_ns makes of a raw double.  A refused double must be
 * negative, NaN or too large; it then stands for no wait at all.
 */
inline int64_t
decode_max_wait(Input &in)
{
	uint8_t mode = in.byte();
	int64_t max_wait = 0;
	double seconds;

	switch (mode % 6)
	{
		case 0:
			return 0;
		case 1:
			return hacienda::kForeverNs;
		case 2:
			FUZZ_REQUIRE(hacienda::timeout_to_ns(hacienda::kMaxTimeoutSeconds, &max_wait));
			return max_wait;
		case 3:
			return static_cast<int64_t>(in.bits(4));
		case 4:
			return static_cast<int64_t>(in.bits(2)) * 1000000;
		default:
			seconds = in.real();
			if (!hacienda::timeout_to_ns(seconds, &max_wait))
			{
				FUZZ_REQUIRE(!(seconds >= 0 && seconds <= hacienda::kMaxTimeoutSeconds));
				return 0;
			}
			FUZZ_REQUIRE(max_wait >= 0 && max_wait <= INT64_C(2147483647000000));
			return max_wait;
	}
}

} /* namespace hacienda_fuzz */

#endif /* HACIENDA_FUZZ_INPUT_HPP */
