/*
 * boundary.cpp
 *		Turns C++ exceptions into PostgreSQL errors; see boundary.hpp.
 */
#include "postgres_headers.hpp"

#include <exception>

#include "boundary.hpp"

namespace hacienda
{

Datum
call_guarded(SqlFunctionBody body, FunctionCallInfo fcinfo)
{
	char message[256];

	try
	{
		return body(fcinfo);
	}
	catch (const std::exception &e)
	{
		strlcpy(message, e.what(), sizeof(message));
	}
	catch (...)
	{
		strlcpy(message, "unknown exception", sizeof(message));
	}

	/* Out of every catch scope: now it is safe to longjmp. */
	ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
					errmsg("unexpected C++ exception in hacienda_ratelimit: %s", message)));
	pg_unreachable();
}

} /* namespace hacienda */
