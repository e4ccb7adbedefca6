/*
 * key_encoding.cpp
 *		Conversion of bucket keys between UTF-8 and the database's encoding.
 */
#include "postgres_headers.hpp"

#include "key_encoding.hpp"

namespace hacienda
{

namespace
{

/* Every server encoding is a superset of ASCII: such keys need no conversion. */
bool
is_ascii(const char *data, size_t len)
{
	for (size_t i = 0; i < len; i++)
	{
		if (IS_HIGHBIT_SET(data[i]))
			return false;
	}
	return true;
}

bool
needs_conversion(const char *data, size_t len)
{
	return GetDatabaseEncoding() != PG_UTF8 && !is_ascii(data, len);
}

} /* namespace */

const char *
key_bytes_from_database(const char *data, size_t *len)
{
	const char *converted;

	if (!needs_conversion(data, *len))
		return data;

	/* Validates instead when the database is SQL_ASCII. */
	converted = pg_server_to_any(data, static_cast<int>(*len), PG_UTF8);
	if (converted != data)
		*len = strlen(converted);
	return converted;
}

text *
key_text_for_database(const char *data, size_t len)
{
	static Oid conversion = InvalidOid;
	int encoding = GetDatabaseEncoding();
	Size room;
	char *converted;
	int used;

	/* A SQL_ASCII database takes any bytes, as it does from clients. */
	if (!needs_conversion(data, len) || encoding == PG_SQL_ASCII)
		return cstring_to_text_with_len(data, static_cast<int>(len));

	/* The database's encoding never changes: look the conversion up once. */
	if (!OidIsValid(conversion))
		conversion = FindDefaultConversionProc(PG_UTF8, encoding);
	if (!OidIsValid(conversion))
		return NULL;

	room = len * MAX_CONVERSION_GROWTH + 1;
	converted = static_cast<char *>(palloc(room));
	used = pg_do_encoding_conversion_buf(
		conversion, PG_UTF8, encoding, reinterpret_cast<unsigned char *>(const_cast<char *>(data)),
		static_cast<int>(len), reinterpret_cast<unsigned char *>(converted), static_cast<int>(room),
		true);
	if (used < static_cast<int>(len))
		return NULL;
	return cstring_to_text(converted);
}

const char *
key_for_message(const char *data, size_t len)
{
	text *converted = key_text_for_database(data, len);
	char *shown;

	if (converted != NULL)
		return text_to_cstring(converted);

	shown = pnstrdup(data, len);
	for (char *c = shown; *c != '\0'; c++)
	{
		if (IS_HIGHBIT_SET(*c))
			*c = '?';
	}
	return shown;
}

} /* namespace hacienda */
