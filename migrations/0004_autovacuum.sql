-- Autovacuum per table (docs/operations.md, "Deletion under churn"). A journal deletes
-- what it wrote (prunes, sweeps), so its tables' size on disk is the live
-- rows plus the dead rows waiting for a vacuum. Autovacuum takes a table
-- when its dead rows pass threshold + scale_factor x its rows: PostgreSQL's
-- default scale factor, 0.2, lets a table holding a day of retained records
-- (--prune-retention 24h) carry another fifth of them as dead rows. 0.02
-- bounds that to about 2%: a vacuum each time 2% of the table has turned
-- over, which on a table that is mostly all-visible pages reads little more
-- than the pages that changed. (Short-lived records are bound by
-- autovacuum_naptime instead, a server-wide setting: docs/operations.md.)
ALTER TABLE records SET (autovacuum_vacuum_scale_factor = 0.02,
  autovacuum_vacuum_threshold = 1000, autovacuum_analyze_scale_factor = 0.05);
ALTER TABLE steps SET (autovacuum_vacuum_scale_factor = 0.02,
  autovacuum_vacuum_threshold = 1000, autovacuum_analyze_scale_factor = 0.05);
ALTER TABLE completions SET (autovacuum_vacuum_scale_factor = 0.02,
  autovacuum_vacuum_threshold = 1000, autovacuum_analyze_scale_factor = 0.05);
