-- q19: auction top-10 price. The ten highest-priced bids of each auction with their rank; a
-- Top-N, so the result is a changelog. Bids of equal price may rank in either order.
SELECT * FROM (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rank_number
    FROM bid)
WHERE rank_number <= 10;
