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
 * Sleep on this backend's latch until the reservation in slot, made by
 * decision, is due, then take its tokens.  Cancellation, statement_timeout,
 * termination and a lost client connection end the wait at once, and so does
 * a change of limits after which the tokens could no longer come within
 * timeout_ns of the decision; the reservation is then given back (see
 * bucket_cancel_wait) before the error propagates.
 */
void wait_for_reservation(const BucketKey *key, int32 tokens, WaiterSlot *slot,
						  const Decision &decision, int64 timeout_ns);

} /* namespace hacienda */

#endif /* HACIENDA_PG_WAITING_HPP */
