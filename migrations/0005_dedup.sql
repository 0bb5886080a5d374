-- Large-payload dedup (storage/dedup.h): a payload stored once per job,
-- referenced by digest from every entry that holds it. Rows from before
-- this migration keep their bytes inline (digest NULL); both forms read.
--
-- A blob's refs is the number of entry rows holding its digest. A write
-- adds the references of the rows it writes with an upsert in its own
-- transaction (INSERT ... ON CONFLICT (job_id, digest) DO UPDATE SET refs =
-- blobs.refs + EXCLUDED.refs); the triggers below release those of the rows
-- deleted or overwritten, and delete a blob at zero. A release and an add
-- on one blob serialize on its row lock: the add waits, then either counts
-- on (the release kept the row) or inserts it afresh (it was deleted).
CREATE TABLE blobs (
  job_id text   NOT NULL,
  digest bytea  NOT NULL,  -- SHA-256 of bytes
  bytes  bytea  NOT NULL,  -- the payload as stored (compressed or not)
  refs   bigint NOT NULL,
  PRIMARY KEY (job_id, digest)
) WITH (fillfactor = 70);  -- room for the refs updates to stay HOT
-- Out of line and not compressed again (zstd did): a refs update rewrites
-- a small row, not the payload.
ALTER TABLE blobs ALTER COLUMN bytes SET STORAGE EXTERNAL;
-- Every reference added or released updates a blob's row: vacuumed as the
-- entries' tables are (0004_autovacuum.sql).
ALTER TABLE blobs SET (autovacuum_vacuum_scale_factor = 0.02,
  autovacuum_vacuum_threshold = 1000, autovacuum_analyze_scale_factor = 0.05);

-- Where an entry's payload (a step's result, a completion's state) is when
-- stored once; the same name in both tables, so that one trigger function
-- serves both.
ALTER TABLE steps ADD COLUMN blob_digest bytea;
ALTER TABLE completions ADD COLUMN blob_digest bytea;

-- Releases one reference per (job, digest) element; NULL digests are none.
-- Locks the blobs in one order (as the writers' upserts insert them), so
-- that transactions releasing and adding several do not deadlock; the
-- delete is its own statement, so that it sees the decrement.
CREATE FUNCTION aj_release_blobs(jobs text[], digests bytea[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  WITH d AS (SELECT u.job_id, u.digest, count(*) AS n
      FROM unnest(jobs, digests) AS u(job_id, digest)
      WHERE u.digest IS NOT NULL GROUP BY u.job_id, u.digest),
    l AS MATERIALIZED (SELECT b.job_id, b.digest, d.n FROM blobs b
      JOIN d ON b.job_id = d.job_id AND b.digest = d.digest
      ORDER BY b.job_id COLLATE "C", b.digest FOR UPDATE OF b)
  UPDATE blobs b SET refs = b.refs - l.n FROM l
    WHERE b.job_id = l.job_id AND b.digest = l.digest;
  DELETE FROM blobs b USING unnest(jobs, digests) AS u(job_id, digest)
    WHERE b.job_id = u.job_id AND b.digest = u.digest AND b.refs <= 0;
END $$;

-- Deletes (prune, sweep, reset, replace): one release per statement, of
-- every deleted row holding a digest.
CREATE FUNCTION aj_entries_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM aj_release_blobs(array_agg(job_id), array_agg(blob_digest))
    FROM gone WHERE blob_digest IS NOT NULL HAVING count(*) > 0;
  RETURN NULL;
END $$;
-- Updates that change the digest (a PENDING step's upgrade, when the
-- pending step already held a large result): the old row's reference goes,
-- the writer's upsert added the new one.
CREATE FUNCTION aj_entry_overwritten() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM aj_release_blobs(ARRAY[OLD.job_id], ARRAY[OLD.blob_digest]);
  RETURN NULL;
END $$;
CREATE TRIGGER steps_release AFTER DELETE ON steps
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT
  EXECUTE FUNCTION aj_entries_deleted();
CREATE TRIGGER completions_release AFTER DELETE ON completions
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT
  EXECUTE FUNCTION aj_entries_deleted();
CREATE TRIGGER steps_overwrite AFTER UPDATE OF blob_digest ON steps
  FOR EACH ROW WHEN (OLD.blob_digest IS NOT NULL)
  EXECUTE FUNCTION aj_entry_overwritten();
CREATE TRIGGER completions_overwrite AFTER UPDATE OF blob_digest
  ON completions FOR EACH ROW WHEN (OLD.blob_digest IS NOT NULL)
  EXECUTE FUNCTION aj_entry_overwritten();
