-- Entries left without their record by earlier versions, whose prunes and
-- sweeps could race a writer (README, "PostgreSQL": a prune deleted a
-- record's entries as of its statement's snapshot, then the record after
-- waiting for the writer's lock, leaving what the writer had just
-- committed). A record id written again would otherwise find them: its
-- batch's inserts would collide with them and be redone for ever. Once, at
-- upgrade: a scan of both entry tables with a primary-key probe per row.
DELETE FROM steps s WHERE NOT EXISTS (SELECT 1 FROM records r WHERE
  r.job_id = s.job_id AND r.record_key = s.record_key AND
  r.seq_num = s.seq_num);
DELETE FROM completions c WHERE NOT EXISTS (SELECT 1 FROM records r WHERE
  r.job_id = c.job_id AND r.record_key = c.record_key AND
  r.seq_num = c.seq_num);
