/*
 * boundary.hpp
 *		The single crossing between PostgreSQL's C frames and the C++ code.
 *
 * Every SQL-callable function is declared with HACIENDA_SQL_FUNCTION, which
 * runs its body through call_guarded().  C++ exceptions are caught there,
 * including unknown ones, their message is copied into a plain buffer, the
 * catch scope is left, and only then is a PostgreSQL error raised.  The
 * bodies themselves hold only plain data, so a PostgreSQL error that unwinds
 * them with longjmp skips no destructor.
 */
#ifndef HACIENDA_PG_BOUNDARY_HPP
#define HACIENDA_PG_BOUNDARY_HPP

#include "postgres_headers.hpp"

namespace hacienda
{

typedef Datum (*SqlFunctionBody)(FunctionCallInfo fcinfo);

Datum call_guarded(SqlFunctionBody body, FunctionCallInfo fcinfo);

} /* namespace hacienda */

#define HACIENDA_SQL_FUNCTION(sql_name, body)                                                      \
	extern "C"                                                                                     \
	{                                                                                              \
		PG_FUNCTION_INFO_V1(sql_name);                                                             \
		Datum                                                                                      \
		sql_name(PG_FUNCTION_ARGS)                                                                 \
		{                                                                                          \
			return hacienda::call_guarded(body, fcinfo);                                           \
		}                                                                                          \
	}

#endif /* HACIENDA_PG_BOUNDARY_HPP */
