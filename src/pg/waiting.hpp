/*
 * waiting.hpp
 *		Sleeping until a reserved slot comes due.
 */
#ifndef HACIENDA_PG_WAITING_HPP
#define HACIENDA_PG_WAITING_HPP

#include "shared_state.hpp"

namespace hacienda
{

/*
 * Sleep on this backend's latch until the monotonic clock reaches ready_ns,
 * then record the grant.  Cancellation, statement_timeout, termination and a
 * lost client connection end the wait at once; the reservation is then given
 * back (see bucket_cancel_wait) before the error propagates.
 */
void wait_for_reservation(const BucketKey *key, int32 tokens, int64 ready_ns);

} /* namespace hacienda */

#endif /* HACIENDA_PG_WAITING_HPP */
