-- q4: average price per category. The highest bid each auction received while open (bid time
-- between the auction's start and expiry), then the average of those per category. Both
-- aggregates update as bids arrive, so the result is a changelog.
SELECT
    Q.category AS id,
    AVG(Q.final) AS final
FROM (
    SELECT MAX(B.price) AS final, A.category
    FROM auction A, bid B
    WHERE A.id = B.auction AND B.`dateTime` BETWEEN A.`dateTime` AND A.expires
    GROUP BY A.id, A.category
) Q
GROUP BY Q.category;
