/*
 * waiting.cpp
 *		Sleeping until a reserved slot comes due.
 *
 * The sleep is on the latch, not a polling loop: the latch is set by the
 * signals that deliver cancellation and timeouts and by a waiter ahead that
 * gives up, the wait ends by itself when the slot comes due (in a long step,
 * a short one and a last fraction of a millisecond), the
 * postmaster's death ends the process, and the client socket is watched for
 * the peer closing it.  While asleep the backend shows wait_event_type
 * "Extension" in pg_stat_activity.
 *
 * Instants here are on the bucket's clock, which may run a little ahead of a
 * backend's own reading (see refill_to), so due times and the deadline are
 * both taken from the bucket.
 */
#include "postgres_headers.hpp"

#include "clock.hpp"
#include "reports.hpp"
#include "settings.hpp"
#include "waiting.hpp"

namespace hacienda
{

namespace
{

/* What the cleanup callback needs to return a reservation. */
struct Reservation
{
	BucketKey key;
	int32 tokens;
	WaiterSlot *slot;
	int64 deadline_ns; /* the latest due time the caller's timeout allows */
	int64 timeout_ns;
};

/* Where a reservation stands after a look at its bucket. */
struct Claim
{
	bool granted; /* the tokens are now the caller's */
	int64 due_ns; /* if not, when they should be */
};

/*
 * Give an abandoned reservation back, if it is not yet due, and move the
 * waiters behind it up.  Runs from PG_CATCH on an ERROR and from
 * before_shmem_exit on FATAL or exit; neither holds the table lock.
 */
void
give_back(int, Datum arg)
{
	const Reservation *reservation = reinterpret_cast<const Reservation *>(DatumGetPointer(arg));
	Limits defaults = default_limits();
	BucketEntry *entry = lock_bucket_exclusively(&reservation->key);
	WaiterSlot *slot = reservation->slot;

	/* With the table lock exclusive, no spinlock is needed. */
	if (entry != NULL && slot->entry == entry &&
		bucket_cancel_wait(entry->bucket, entry_limits(entry, defaults), monotonic_now_ns(),
						   reservation->tokens, slot->ticket))
		close_gap_behind(entry, slot->ticket, reservation->tokens);
	slot->entry = NULL;
	unlock_buckets();
}

/* Take the reserved tokens if they are due; otherwise say when they should be. */
Claim
claim_if_due(const Reservation *reservation)
{
	Limits defaults = default_limits();
	BucketEntry *entry = lock_bucket_for_reading(&reservation->key);
	WaiterSlot *slot = reservation->slot;
	int64 now_ns = monotonic_now_ns();
	Claim claim = {true, now_ns};

	/* A waiter's bucket is never evicted; if it were, nothing would be owed. */
	if (entry != NULL)
	{
		int64 wait_ns;

		SpinLockAcquire(&entry->mutex);
		wait_ns =
			bucket_ticket_wait(entry->bucket, entry_limits(entry, defaults), now_ns, slot->ticket);
		claim.granted = wait_ns == 0;
		claim.due_ns = deadline_after(entry->bucket.updated_ns, wait_ns);
		if (claim.granted)
		{
			bucket_finish_wait(entry->bucket, now_ns);
			slot->entry = NULL;
		}
		SpinLockRelease(&entry->mutex);
	}
	unlock_buckets();
	return claim;
}

/*
 * The kernel may end a timed wait late by up to a thousandth of its length.
 * A long sleep therefore stops short of the slot by twice that, and the few
 * milliseconds left are slept again, where the slack is negligible.
 */
constexpr int64 kSlackShare = 500;
constexpr int64 kNanosPerMilli = 1000000;

/*
 * One sleep on the latch; turns a closed client socket into an interrupt.
 * Returns whether the latch was set.
 */
bool
sleep_once(long timeout_ms)
{
	int events = WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH;
	pgsocket sock = PGINVALID_SOCKET;
	int rc;

	if (MyProcPort != NULL && MyProcPort->sock != PGINVALID_SOCKET)
	{
		events |= WL_SOCKET_CLOSED;
		sock = MyProcPort->sock;
	}

	rc = WaitLatchOrSocket(MyLatch, events, sock, timeout_ms, PG_WAIT_EXTENSION);
	if (rc & WL_LATCH_SET)
		ResetLatch(MyLatch);
	if (rc & WL_SOCKET_CLOSED)
	{
		ClientConnectionLost = true;
		InterruptPending = true;
	}
	return (rc & WL_LATCH_SET) != 0;
}

/*
 * Sleep towards due_ns without passing it: on the latch for whole
 * milliseconds while one or more remain, then the last fraction of one with
 * pg_usleep, which is too short to hold up an interrupt.  Returns whether
 * the latch was set, which may mean the slot moved.
 */
bool
sleep_towards(int64 due_ns)
{
	int64 left_ns = due_ns - monotonic_now_ns();

	if (left_ns >= kNanosPerMilli)
		return sleep_once(static_cast<long>((left_ns - left_ns / kSlackShare) / kNanosPerMilli));
	if (left_ns > 0)
		pg_usleep(static_cast<long>((left_ns + 999) / 1000));
	return false;
}

/*
 * Sleep until the ticket should be due, then look; until the tokens are
 * taken.  A waiter ahead that gives up moves the ticket up, and a reset or a
 * change of limits may move it either way; each sets the latch, which ends
 * the sleep early (for a reload, the reload's own signal does).
 */
void
sleep_until_claimed(const Reservation *reservation, int64 due_ns)
{
	for (;;)
	{
		Claim claim;
		bool woken;

		woken = sleep_towards(due_ns);
		CHECK_FOR_INTERRUPTS();
		if (!woken && monotonic_now_ns() < due_ns)
			continue;

		claim = claim_if_due(reservation);
		if (claim.granted)
			return;
		if (claim.due_ns > reservation->deadline_ns)
			report_timeout(&reservation->key, reservation->tokens, reservation->timeout_ns,
						   claim.due_ns - monotonic_now_ns());
		due_ns = claim.due_ns;
	}
}

} /* namespace */

void
wait_for_reservation(const BucketKey *key, int32 tokens, WaiterSlot *slot, const Decision &decision,
					 int64 timeout_ns)
{
	Reservation reservation;
	int64 decided_ns = decision.ready_ns - decision.wait_ns;

	reservation.key = *key;
	reservation.tokens = tokens;
	reservation.slot = slot;
	reservation.deadline_ns = deadline_after(decided_ns, timeout_ns);
	reservation.timeout_ns = timeout_ns;

	PG_ENSURE_ERROR_CLEANUP(give_back, PointerGetDatum(&reservation));
	{
		sleep_until_claimed(&reservation, decision.ready_ns);
	}
	PG_END_ENSURE_ERROR_CLEANUP(give_back, PointerGetDatum(&reservation));
}

} /* namespace hacienda */
