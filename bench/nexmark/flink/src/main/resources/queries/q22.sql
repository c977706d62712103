-- q22: URL directories. The first three path segments of each bid's URL (SPLIT_INDEX on '/',
-- indexes 3, 4 and 5 counting from 0, after "https:" and the empty piece and the host).
SELECT
    auction, bidder, price, channel,
    SPLIT_INDEX(url, '/', 3) AS dir1,
    SPLIT_INDEX(url, '/', 4) AS dir2,
    SPLIT_INDEX(url, '/', 5) AS dir3
FROM bid;
