/*
 * key_encoding.hpp
 *		Bucket keys in one encoding for the whole cluster.
 *
 * Buckets are shared by every database of the server, and databases may use
 * different encodings.  Keys are therefore kept in UTF-8: a key is converted
 * from the calling database's encoding on the way in and back on the way out,
 * so that the same characters name the same bucket in every database.
 */
#ifndef HACIENDA_PG_KEY_ENCODING_HPP
#define HACIENDA_PG_KEY_ENCODING_HPP

#include "postgres_headers.hpp"

namespace hacienda
{

/*
 * The UTF-8 bytes of a key given in the database's encoding, and their number
 * in *len.  Returns data itself when no conversion is needed; raises an ERROR
 * if the bytes are not valid in the database's encoding.
 */
const char *key_bytes_from_database(const char *data, size_t *len);

/*
 * A key's UTF-8 bytes as text in the database's encoding, or NULL if that
 * encoding cannot represent one of its characters.
 */
text *key_text_for_database(const char *data, size_t len);

/*
 * A key as a C string in the database's encoding, for error messages.  A
 * character that encoding cannot show becomes '?'.
 */
const char *key_for_message(const char *data, size_t len);

} /* namespace hacienda */

#endif /* HACIENDA_PG_KEY_ENCODING_HPP */
