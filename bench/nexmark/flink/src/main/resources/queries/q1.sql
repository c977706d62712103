-- q1: currency conversion. Every bid with its price turned from dollars into euros
-- (DECIMAL(23, 3)).
SELECT
    auction,
    bidder,
    0.908 * price AS price,
    `dateTime`,
    extra
FROM bid;
