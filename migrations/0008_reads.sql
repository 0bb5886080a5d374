-- What the read APIs show (DESIGN 3, "Reading for people and tools"):
-- when a record was created (their order), how often a higher attempt took
-- it over (a replay) and when the last did, and when each entry was
-- written, so that a record's timeline tells the entries a replay reused
-- (written before it) from those it ran again. Rows from before this
-- migration count as created when it ran and their entries' times as
-- unknown (0); constant defaults, no table rewrite. The writers set every
-- column themselves.
ALTER TABLE records
  ADD COLUMN created_at_us bigint NOT NULL
    DEFAULT (extract(epoch FROM now()) * 1000000)::bigint,
  ADD COLUMN replays bigint NOT NULL DEFAULT 0,
  ADD COLUMN replayed_at_us bigint;
ALTER TABLE steps ADD COLUMN written_at_us bigint NOT NULL DEFAULT 0;
ALTER TABLE completions ADD COLUMN written_at_us bigint NOT NULL DEFAULT 0;
-- A job's records newest first (ListRecords), paged by position.
CREATE INDEX records_created ON records (job_id, created_at_us);
