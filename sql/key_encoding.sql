--
-- Keys are shared by every database of the server, whatever its encoding.
-- They are kept in UTF-8, so the same characters name the same bucket in a
-- UTF-8, a LATIN1 and a SQL_ASCII database; a key that a database's encoding
-- cannot show is listed there with a null key, never as broken text.
-- This file uses only keys starting with "encoding_".
--
SET client_encoding = 'UTF8';
SELECT current_database() AS home_database \gset

CREATE DATABASE regress_hacienda_latin1 ENCODING 'LATIN1' TEMPLATE template0
	LC_COLLATE 'C' LC_CTYPE 'C';
CREATE DATABASE regress_hacienda_ascii ENCODING 'SQL_ASCII' TEMPLATE template0
	LC_COLLATE 'C' LC_CTYPE 'C';

-- In this UTF-8 database: one token each from 'encoding_é' and 'encoding_€'.
-- The second gets a capacity of its own, to find it where it has no name.
SELECT hacienda_try_acquire('encoding_é') AS e_acute,
       hacienda_try_acquire('encoding_€') AS euro;
SELECT hacienda_configure('encoding_€', 7777, 1);

--
-- A LATIN1 database: 'encoding_é' is the same bucket; 'encoding_€' cannot
-- be written in LATIN1, so the view shows its row with a null key.
--
\c regress_hacienda_latin1
SET client_encoding = 'UTF8';
CREATE EXTENSION hacienda_ratelimit;
SELECT hacienda_try_acquire('encoding_é') AS e_acute;
SELECT key, total_requests FROM hacienda_buckets WHERE key LIKE 'encoding\_%';
SELECT key, capacity, total_requests FROM hacienda_buckets WHERE capacity = 7777;
SELECT key, total_requests FROM hacienda_status('encoding_é');

-- Messages show the key in the database's encoding.
SELECT hacienda_try_acquire('encoding_é', 25);

--
-- A SQL_ASCII database passes bytes through: UTF-8 bytes name the same
-- bucket, and bytes that are not UTF-8 are refused with 22021
-- (character_not_in_repertoire).
--
\c regress_hacienda_ascii
SET client_encoding = 'SQL_ASCII';
CREATE EXTENSION hacienda_ratelimit;
SELECT hacienda_try_acquire(convert_from('\x656e636f64696e675fc3a9'::bytea, 'SQL_ASCII'))
	AS e_acute;
SELECT hacienda_try_acquire(convert_from('\x656e636f64696e675fe9'::bytea, 'SQL_ASCII'));
\echo :LAST_ERROR_SQLSTATE

--
-- Back in the UTF-8 database: three grants on 'encoding_é', one on
-- 'encoding_€', and nothing else was created.
--
\c :home_database
SET client_encoding = 'UTF8';
SELECT key, total_requests, octet_length(key) AS bytes
FROM hacienda_buckets WHERE key LIKE 'encoding\_%'
ORDER BY key COLLATE "C";
SELECT hacienda_unconfigure('encoding_€');

DROP DATABASE regress_hacienda_latin1;
DROP DATABASE regress_hacienda_ascii;
