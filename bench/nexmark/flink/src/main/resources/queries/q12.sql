-- q12: processing-time windows. Bids per bidder in 10 s tumbling windows of processing time
-- (wall clock), so its result depends on how fast the job runs.
CREATE TEMPORARY VIEW B AS SELECT *, PROCTIME() AS p_time FROM bid;

SELECT
    bidder,
    COUNT(*) AS bid_count,
    window_start AS starttime,
    window_end AS endtime
FROM TABLE(
    TUMBLE(TABLE B, DESCRIPTOR(p_time), INTERVAL '10' SECOND))
GROUP BY bidder, window_start, window_end;
