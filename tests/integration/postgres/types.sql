-- A table with every type the postgres source maps, for case_source_types: edge values, nulls,
-- unicode, large values, then random rows with about 10 % nulls in every column.
CREATE TABLE source_types (
  id int PRIMARY KEY, b bool, s smallint, i int, l bigint, r real, d double precision,
  n numeric(12,3), nu numeric, t text, v varchar(20), c char(5), by bytea, dt date,
  ts timestamp, tz timestamptz, j json, jb jsonb, u uuid, iv interval, arr int[]);
INSERT INTO source_types VALUES
 (1, true, -32768, 2147483647, -9223372036854775808, 1.5, 3.141592653589793, -123456789.125,
  1e-20, 'héllo "wörld", ☃ 𝄞 \ tab	end', 'v', 'ab', '\x00ff10', '2024-02-29',
  '2024-01-01 12:34:56.789012', '2024-06-01 12:00:00.000001+02', '{"a": [1, 2]}',
  '{"b": null, "ü": "☃"}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '1 day 02:00:00', '{1,2,3}'),
 (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL),
 (3, false, 32767, -2147483648, 9223372036854775807, 'NaN', '-Infinity', 0, 'NaN', '', '', '',
  '', 'infinity', '-infinity', '1970-01-01 00:00:00+00', '[]', '[]',
  '00000000-0000-0000-0000-000000000000', '-1 hour', '{}'),
 (4, true, 0, 0, 0, 'Infinity', 5e-324, 999999999.999, 12345678901234567890.123456789,
  repeat('ü☃x', 400000), repeat('é', 20), 'ü', decode(repeat('ab01', 250000), 'hex'),
  '0001-01-01', '1900-03-01 00:00:00', '2262-04-11 23:47:16.854775+00',
  '"x"', '1e3', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '1 year 2 mons', NULL),
 (5, false, -1, -1, -1, -0.0, 1.7976931348623157e308, -0.001, -1e100, 'line
break', 'x', 'abcde', '\x', '1969-12-31', '1969-12-31 23:59:59.999999', '0001-01-01 00:00:00+00',
  'null', '{"nested": {"deep": [true, false, null]}}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12',
  '00:00:00.000001', '{NULL,1}');
-- Random rows; nulls as a tenth of every column.
CREATE FUNCTION maybe(value anyelement) RETURNS anyelement LANGUAGE sql AS
  'SELECT CASE WHEN random() < 0.1 THEN NULL ELSE value END';
INSERT INTO source_types
SELECT g, maybe(random() < 0.5), maybe((random() * 65535 - 32768)::int::smallint),
  maybe((random() * 4e9 - 2e9)::bigint::int), maybe((random() * 1e18 - 5e17)::bigint * 9),
  maybe((random() * 1e6 - 5e5)::real), maybe(random() * 1e9 - 5e8),
  maybe(round((random() * 1e9 - 5e8)::numeric, 3)), maybe((random() * 1e6)::numeric / 7),
  maybe(chr((random() * 90 + 32)::int) || chr((random() * 50000 + 160)::int) || md5(g::text)),
  maybe(left(md5(g::text), (random() * 20)::int)), maybe(left(md5((g + 1)::text), 3)),
  maybe(decode(md5(g::text), 'hex')), maybe(date '2000-01-01' + (random() * 40000 - 20000)::int),
  maybe(timestamp '2000-01-01' + random() * interval '40000 days' - interval '20000 days'),
  maybe(timestamptz '2000-01-01 00:00:00+00' + random() * interval '20000 days'),
  maybe(json_build_object('g', g, 's', md5(g::text))), maybe(jsonb_build_object('r', random())),
  maybe(md5(g::text)::uuid), maybe(random() * interval '100 days'), maybe(ARRAY[g, g + 1])
FROM generate_series(6, 3000) AS g;
