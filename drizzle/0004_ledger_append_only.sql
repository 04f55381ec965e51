-- The ledger's books keep themselves honest in the database, whatever the code above does.
-- 1. Every journal balances: after each insert into ledger_postings, the journals it touched
--    must sum to zero (a journal's postings are written in one statement).
-- 2. Materialised balances of shop and creator accounts move in the same statement as the
--    postings, so they always equal the sums; nothing else may write them.
-- 3. Journals and postings are append-only.
CREATE FUNCTION ledger_postings_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  bad text;
BEGIN
  SELECT p.journal_id INTO bad
    FROM ledger_postings p
   WHERE p.journal_id IN (SELECT DISTINCT journal_id FROM new_postings)
   GROUP BY p.journal_id
  HAVING sum(p.amount) <> 0
   LIMIT 1;
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'ledger journal % does not balance', bad USING ERRCODE = '23514';
  END IF;
  INSERT INTO ledger_balances (account, balance)
  SELECT account, sum(amount) FROM new_postings
   WHERE account NOT LIKE 'platform:%'
   GROUP BY account
   ORDER BY account
  ON CONFLICT (account) DO UPDATE SET balance = ledger_balances.balance + excluded.balance;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER ledger_postings_balance
  AFTER INSERT ON ledger_postings
  REFERENCING NEW TABLE AS new_postings
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_postings_after_insert();
--> statement-breakpoint
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER ledger_postings_append_only
  BEFORE UPDATE OR DELETE ON ledger_postings
  FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
--> statement-breakpoint
CREATE TRIGGER ledger_postings_no_truncate
  BEFORE TRUNCATE ON ledger_postings
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
--> statement-breakpoint
CREATE TRIGGER ledger_journals_append_only
  BEFORE UPDATE OR DELETE ON ledger_journals
  FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
--> statement-breakpoint
CREATE TRIGGER ledger_journals_no_truncate
  BEFORE TRUNCATE ON ledger_journals
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
--> statement-breakpoint
-- Balances move only through the postings trigger (trigger depth 1), never by direct writes.
CREATE FUNCTION ledger_balances_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger_balances is written only by the ledger_postings trigger';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER ledger_balances_direct_write
  BEFORE INSERT OR UPDATE OR DELETE ON ledger_balances
  FOR EACH ROW WHEN (pg_trigger_depth() < 1)
  EXECUTE FUNCTION ledger_balances_guard();
--> statement-breakpoint
CREATE TRIGGER ledger_balances_no_truncate
  BEFORE TRUNCATE ON ledger_balances
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_balances_guard();
