/*
 * waiting.cpp
 *		Sleeping until a reserved slot comes due.
 *
 * The sleep is one WaitLatch per wake-up, not a polling loop: the latch is
 * set by the signals that deliver cancellation and timeouts, the wait ends by
 * itself when the slot comes due, the postmaster's death ends the process, and
 * the client socket is watched for the peer closing it.  While asleep the
 * backend shows wait_event_type "Extension" in pg_stat_activity.
 */
#include "postgres_headers.hpp"

#include "clock.hpp"
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
	int64 ready_ns;
};

/*
 * Give an abandoned reservation back, as far as the queue behind it allows.
 * Runs from PG_CATCH on an ERROR and from before_shmem_exit on FATAL or exit;
 * neither holds the table lock.
 */
void
give_back(int, Datum arg)
{
	const Reservation *reservation = reinterpret_cast<const Reservation *>(DatumGetPointer(arg));
	Limits defaults = default_limits();
	BucketEntry *entry = lock_bucket_for_reading(&reservation->key);

	if (entry != NULL)
	{
		SpinLockAcquire(&entry->mutex);
		bucket_cancel_wait(entry->bucket, entry_limits(entry, defaults), monotonic_now_ns(),
						   reservation->tokens, reservation->ready_ns);
		SpinLockRelease(&entry->mutex);
	}
	unlock_buckets();
}

void
record_grant(const BucketKey *key)
{
	BucketEntry *entry = lock_bucket_for_reading(key);

	if (entry != NULL)
	{
		SpinLockAcquire(&entry->mutex);
		bucket_finish_wait(entry->bucket, monotonic_now_ns());
		SpinLockRelease(&entry->mutex);
	}
	unlock_buckets();
}

/* Milliseconds to sleep to reach ready_ns, rounded up so we never wake early. */
long
sleep_ms(int64 now_ns, int64 ready_ns)
{
	int64 ms = (ready_ns - now_ns + 999999) / 1000000;

	return ms > LONG_MAX ? LONG_MAX : static_cast<long>(ms);
}

/* One sleep on the latch; turns a closed client socket into an interrupt. */
void
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
}

} /* namespace */

void
wait_for_reservation(const BucketKey *key, int32 tokens, int64 ready_ns)
{
	Reservation reservation;

	reservation.key = *key;
	reservation.tokens = tokens;
	reservation.ready_ns = ready_ns;

	PG_ENSURE_ERROR_CLEANUP(give_back, PointerGetDatum(&reservation));
	{
		for (;;)
		{
			int64 now_ns = monotonic_now_ns();

			if (now_ns >= ready_ns)
				break;
			sleep_once(sleep_ms(now_ns, ready_ns));
			CHECK_FOR_INTERRUPTS();
		}
	}
	PG_END_ENSURE_ERROR_CLEANUP(give_back, PointerGetDatum(&reservation));

	record_grant(key);
}

} /* namespace hacienda */
