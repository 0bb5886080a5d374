-- Blob references released by the statements that delete or overwrite
-- entries, not by triggers (storage/postgres/statements.cc, ReleaseSql):
-- Citus runs no triggers on distributed tables (docs/scale.md), and a
-- trigger hides a write from whoever reads the statement. Each such
-- statement adds minus its count to each blob it released in the upsert
-- the writers use to add references (so that both lock a blob's row the
-- same way, in digest order), and a statement after it in the transaction
-- deletes the job's blobs left at zero, found by the index below.
DROP TRIGGER steps_release ON steps;
DROP TRIGGER completions_release ON completions;
DROP TRIGGER steps_overwrite ON steps;
DROP TRIGGER completions_overwrite ON completions;
DROP FUNCTION aj_entry_overwritten();
DROP FUNCTION aj_entries_deleted();
DROP FUNCTION aj_release_blobs(text[], bytea[]);
CREATE INDEX blobs_unreferenced ON blobs (job_id) WHERE refs <= 0;
