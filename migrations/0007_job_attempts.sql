-- The last attempt issued per job (IssueAttempt, DESIGN 3): a counter that
-- no Prune, sweep or TTL deletes, so that a writer restored from any
-- checkpoint or savepoint gets an attempt above every one the job used.
-- (Version 6, 0006_orphans.sql, was released and withdrawn: databases that
-- ran it record version 6, so this one is 7.)
CREATE TABLE job_attempts (
  job_id       text   PRIMARY KEY,
  last_attempt bigint NOT NULL
);
