-- A statement that must fail as a whole when a condition it computes does not hold: the
-- payment group's statement checks that every order it marks paid was unpaid and every
-- idempotency key it writes was new, so its COMMIT can be sent in the same write (see
-- executeLast in src/platform/db.ts). VOLATILE and called with a computed argument, so the
-- planner cannot evaluate it early; SQLSTATE LC409 names the refusal.
CREATE OR REPLACE FUNCTION livecart_check(ok boolean, message text) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  IF ok IS NOT TRUE THEN
    RAISE EXCEPTION USING ERRCODE = 'LC409', MESSAGE = message;
  END IF;
  RETURN true;
END
$$;
