"""Invariants PostgreSQL enforces itself: the append-only ledger and wallets that follow it.

- ``transactions`` rejects UPDATE, DELETE and TRUNCATE.
- Inserting a transaction locks the member's wallet (creating it at 0), skips the
  row if its idempotency key was committed meanwhile, applies the amount to the
  wallet and fills ``balance_after``. Wallets change no other way: a trigger on
  ``wallets`` rejects a balance change that did not come from a transaction.
  So ``wallet.balance == SUM(transactions.amount)`` holds by construction.
- The wallet CHECK ``allow_negative OR balance >= 0`` (from 0001) refuses a
  posting that would take a no-negative wallet below zero; ``allow_negative``
  is copied from the currency when the wallet is created and kept in step.
- A member's erasure is the one sanctioned delete: inside a transaction that set
  ``synapse.erasure = 'on'`` (the privacy service does), a member's transactions
  and wallets may be deleted together, so the invariant still holds.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UP = r"""
CREATE FUNCTION synapse_transactions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('synapse.erasure', true) = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'transactions are append-only: % is not allowed (post a correction instead)', TG_OP
    USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER transactions_no_update_delete
  BEFORE UPDATE OR DELETE ON transactions
  FOR EACH ROW EXECUTE FUNCTION synapse_transactions_append_only();

CREATE TRIGGER transactions_no_truncate
  BEFORE TRUNCATE ON transactions
  FOR EACH STATEMENT EXECUTE FUNCTION synapse_transactions_append_only();

CREATE FUNCTION synapse_transactions_post() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  current_balance bigint;
BEGIN
  INSERT INTO wallets (guild_id, user_id, currency_key, balance, allow_negative)
    SELECT NEW.guild_id, NEW.user_id, NEW.currency_key, 0, c.allow_negative
      FROM currencies c WHERE c.guild_id = NEW.guild_id AND c.key = NEW.currency_key
    ON CONFLICT DO NOTHING;
  -- The wallet row lock serialises every posting to this wallet until commit.
  SELECT balance INTO current_balance FROM wallets
    WHERE guild_id = NEW.guild_id AND user_id = NEW.user_id AND currency_key = NEW.currency_key
    FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown currency % in guild %', NEW.currency_key, NEW.guild_id
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  -- Read committed: this statement sees a concurrent twin committed while we waited for the lock.
  IF EXISTS (SELECT 1 FROM transactions
              WHERE guild_id = NEW.guild_id AND idempotency_key = NEW.idempotency_key) THEN
    RETURN NULL;  -- already posted: skip silently, nothing changes
  END IF;
  NEW.balance_after := current_balance + NEW.amount;
  PERFORM set_config('synapse.posting', 'on', true);
  UPDATE wallets SET balance = NEW.balance_after, updated_at = now()
    WHERE guild_id = NEW.guild_id AND user_id = NEW.user_id AND currency_key = NEW.currency_key;
  PERFORM set_config('synapse.posting', 'off', true);
  RETURN NEW;
END $$;

CREATE TRIGGER transactions_post
  BEFORE INSERT ON transactions
  FOR EACH ROW EXECUTE FUNCTION synapse_transactions_post();

CREATE FUNCTION synapse_wallets_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW.balance <> 0 THEN
      RAISE EXCEPTION 'a wallet starts at 0; balances change only through transactions'
        USING ERRCODE = 'restrict_violation';
    END IF;
  ELSIF TG_OP = 'UPDATE' THEN
    IF NEW.balance IS DISTINCT FROM OLD.balance
       AND current_setting('synapse.posting', true) IS DISTINCT FROM 'on' THEN
      RAISE EXCEPTION 'wallet balances change only through transactions'
        USING ERRCODE = 'restrict_violation';
    END IF;
  ELSIF TG_OP = 'DELETE' THEN
    IF OLD.balance <> 0 AND current_setting('synapse.erasure', true) IS DISTINCT FROM 'on' THEN
      RAISE EXCEPTION 'a wallet with a balance cannot be deleted' USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN OLD;
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER wallets_guard
  BEFORE INSERT OR UPDATE OR DELETE ON wallets
  FOR EACH ROW EXECUTE FUNCTION synapse_wallets_guard();

-- Keep wallets' copy of allow_negative in step with the currency (the CHECK then refuses
-- to forbid negatives while some wallet is below zero).
CREATE FUNCTION synapse_currency_allow_negative() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.allow_negative IS DISTINCT FROM OLD.allow_negative THEN
    UPDATE wallets SET allow_negative = NEW.allow_negative
      WHERE guild_id = NEW.guild_id AND currency_key = NEW.key;
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER currencies_allow_negative
  AFTER UPDATE OF allow_negative ON currencies
  FOR EACH ROW EXECUTE FUNCTION synapse_currency_allow_negative();

-- The Event Lake is append-only too (erasure excepted).
CREATE FUNCTION synapse_event_lake_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('synapse.erasure', true) = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'the event lake is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER event_lake_no_update_delete
  BEFORE UPDATE OR DELETE ON event_lake
  FOR EACH ROW EXECUTE FUNCTION synapse_event_lake_append_only();
"""

DOWN = r"""
DROP TRIGGER IF EXISTS event_lake_no_update_delete ON event_lake;
DROP FUNCTION IF EXISTS synapse_event_lake_append_only();
DROP TRIGGER IF EXISTS currencies_allow_negative ON currencies;
DROP FUNCTION IF EXISTS synapse_currency_allow_negative();
DROP TRIGGER IF EXISTS wallets_guard ON wallets;
DROP FUNCTION IF EXISTS synapse_wallets_guard();
DROP TRIGGER IF EXISTS transactions_post ON transactions;
DROP FUNCTION IF EXISTS synapse_transactions_post();
DROP TRIGGER IF EXISTS transactions_no_truncate ON transactions;
DROP TRIGGER IF EXISTS transactions_no_update_delete ON transactions;
DROP FUNCTION IF EXISTS synapse_transactions_append_only();
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute(DOWN)
