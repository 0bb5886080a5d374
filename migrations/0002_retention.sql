-- Retention and TTL (DESIGN section 4). written_at_us: the record's last
-- write, to within a minute, which the record TTL counts from; rows from
-- before this migration count as written when it ran (a constant default:
-- no table rewrite). expires_at_us: set by a Prune with a retention; the
-- record is kept, and answered, until then, and swept after.
ALTER TABLE records
  ADD COLUMN written_at_us bigint NOT NULL
    DEFAULT (extract(epoch FROM now()) * 1000000)::bigint,
  ADD COLUMN expires_at_us bigint;
-- The sweeps' two ways in, each a short index range scan.
CREATE INDEX records_expires ON records (expires_at_us)
  WHERE expires_at_us IS NOT NULL;
CREATE INDEX records_written ON records (written_at_us);
