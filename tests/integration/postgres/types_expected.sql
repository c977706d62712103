-- What psql reads of source_types, as server-made canonical text (see compare_types.py).
SET IntervalStyle = iso_8601;
COPY (SELECT id, b, s, i, l, r::text AS r, d::text AS d, n::text AS n, nu::text AS nu,
  coalesce(t, '\N') AS t, coalesce(v, '\N') AS v, CASE WHEN c IS NULL THEN '\N' ELSE c END AS c,
  coalesce(encode(by, 'hex'), '\N') AS by,
  CASE WHEN isfinite(dt) THEN dt - date '1970-01-01' END AS dt,
  CASE WHEN isfinite(ts) THEN (extract(epoch FROM ts) * 1000000)::bigint END AS ts,
  CASE WHEN isfinite(tz) THEN (extract(epoch FROM tz) * 1000000)::bigint END AS tz,
  coalesce(j::text, '\N') AS j, coalesce(jb::text, '\N') AS jb, coalesce(u::text, '\N') AS u,
  coalesce(iv::text, '\N') AS iv, coalesce(arr::text, '\N') AS arr
  FROM source_types ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER);
