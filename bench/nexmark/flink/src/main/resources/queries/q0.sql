-- q0: pass-through. Every bid goes to the sink unchanged; measures the source and the
-- framework around it.
SELECT auction, bidder, price, `dateTime`, extra FROM bid;
