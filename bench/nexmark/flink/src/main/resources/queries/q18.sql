-- q18: find last bid. The latest bid (by event time) of each bidder on each auction: Flink's
-- deduplication on rowtime, keeping the last row.
SELECT auction, bidder, price, channel, url, `dateTime`, extra
FROM (
    SELECT *,
        ROW_NUMBER() OVER (PARTITION BY bidder, auction ORDER BY `dateTime` DESC) AS rank_number
    FROM bid)
WHERE rank_number <= 1;
