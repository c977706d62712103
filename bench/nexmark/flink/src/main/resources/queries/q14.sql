-- q14: calculation. Bids whose euro price lies strictly between 1,000,000 and 50,000,000, with
-- the bid's hour classified as day, night or other, and the number of 'c' characters in `extra`
-- counted by a scalar UDF.
CREATE TEMPORARY FUNCTION count_char AS 'dev.sluice.bench.nexmark.udf.CountChar';

SELECT
    auction,
    bidder,
    0.908 * price AS price,
    CASE
        WHEN HOUR(`dateTime`) >= 8 AND HOUR(`dateTime`) <= 18 THEN 'dayTime'
        WHEN HOUR(`dateTime`) <= 6 OR HOUR(`dateTime`) >= 20 THEN 'nightTime'
        ELSE 'otherTime'
    END AS bidTimeType,
    `dateTime`,
    extra,
    count_char(extra, 'c') AS c_counts
FROM bid
WHERE 0.908 * price > 1000000 AND 0.908 * price < 50000000;
