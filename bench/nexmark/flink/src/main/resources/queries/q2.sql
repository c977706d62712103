-- q2: selection. Bids on every 123rd auction id, with their price.
SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0;
