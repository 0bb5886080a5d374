-- A write statement's check of the rows it changed against what the rules
-- expected (DESIGN section 4): a difference means another writer won a
-- race, and raising serialization_failure rolls the batch back so that it
-- is redone from a fresh read. In the statement itself, so that a batch's
-- writes and its COMMIT can go to the server in one round trip.
CREATE OR REPLACE FUNCTION aj_expect(got bigint, expected bigint, what text)
  RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
  IF got <> expected THEN
    RAISE EXCEPTION '% changed % rows, expected % (another writer won a race); retry',
      what, got, expected USING ERRCODE = 'serialization_failure';
  END IF;
  RETURN got;
END
$$;
