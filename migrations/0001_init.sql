-- The journal's three tables. Every primary key is led by (job_id,
-- record_key), the distribution key, so that a distributed PostgreSQL
-- (Citus) can distribute them by key without change.
CREATE TABLE records (
  job_id            text    NOT NULL,
  record_key        bytea   NOT NULL,
  seq_num           bigint  NOT NULL,
  attempt           bigint  NOT NULL,  -- uint64 stored as its bit pattern
  input_fingerprint bytea   NOT NULL,
  completed_at_us   bigint,            -- Unix micros; NULL while open
  PRIMARY KEY (job_id, record_key, seq_num)
);
-- Prune by completion time.
CREATE INDEX records_completed ON records (job_id, completed_at_us)
  WHERE completed_at_us IS NOT NULL;

CREATE TABLE steps (
  job_id        text    NOT NULL,
  record_key    bytea   NOT NULL,
  seq_num       bigint  NOT NULL,
  action_key    text    NOT NULL,
  step_index    bigint  NOT NULL,
  function_id   text    NOT NULL,
  args_digest   bytea   NOT NULL,
  status        smallint NOT NULL,  -- 1 PENDING, 2 SUCCEEDED, 3 FAILED
  result        bytea   NOT NULL,
  error         bytea   NOT NULL,
  input_tokens  bigint  NOT NULL,
  output_tokens bigint  NOT NULL,
  micro_usd     bigint  NOT NULL,
  PRIMARY KEY (job_id, record_key, seq_num, action_key, step_index)
);

CREATE TABLE completions (
  job_id        text    NOT NULL,
  record_key    bytea   NOT NULL,
  seq_num       bigint  NOT NULL,
  action_key    text    NOT NULL,
  state         bytea   NOT NULL,
  input_tokens  bigint  NOT NULL,
  output_tokens bigint  NOT NULL,
  micro_usd     bigint  NOT NULL,
  PRIMARY KEY (job_id, record_key, seq_num, action_key)
);
