"""Batch postings: one wallet update per wallet per statement instead of one per row.

The ingest batch store predicts every ``balance_after`` (it holds the members' locks and
their balances). Inside a transaction that set ``synapse.batch_posting = 'on'`` (the store's
prefetch does, for the batch's bulk INSERTs), the row trigger accepts the predicted
``balance_after`` and a statement trigger then, for every wallet the statement touched:
creates it if new, locks it, checks that the rows form an unbroken chain from the wallet's
balance (each ``balance_after`` equals the previous one plus its amount) and never dip below
zero where negatives are not allowed, and finally applies the statement's sum to the wallet
once. Any break raises an integrity error, so the invariant ``balance == SUM(transactions)``
is still enforced by PostgreSQL; the rules runner then rolls the batch back and processes it
statement by statement. Without the setting nothing changes: every row goes through the row
trigger as before.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ROW_TRIGGER = r"""
CREATE OR REPLACE FUNCTION synapse_transactions_post() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  current_balance bigint;
BEGIN
  IF current_setting('synapse.batch_posting', true) = 'on' THEN
    -- A batch with predicted balances: checked and applied once per wallet by the statement trigger.
    RETURN NEW;
  END IF;
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
"""

ROW_TRIGGER_BEFORE = r"""
CREATE OR REPLACE FUNCTION synapse_transactions_post() RETURNS trigger LANGUAGE plpgsql AS $$
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
"""

STATEMENT_TRIGGER = r"""
CREATE FUNCTION synapse_transactions_post_batch() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  bad record;
BEGIN
  IF current_setting('synapse.batch_posting', true) IS DISTINCT FROM 'on' THEN
    RETURN NULL;
  END IF;
  INSERT INTO wallets (guild_id, user_id, currency_key, balance, allow_negative)
    SELECT DISTINCT n.guild_id, n.user_id, n.currency_key, 0, c.allow_negative
      FROM new_rows n JOIN currencies c ON c.guild_id = n.guild_id AND c.key = n.currency_key
    ON CONFLICT DO NOTHING;
  PERFORM 1 FROM wallets w
    WHERE (w.guild_id, w.user_id, w.currency_key) IN (SELECT guild_id, user_id, currency_key FROM new_rows)
    ORDER BY w.guild_id, w.user_id, w.currency_key
    FOR UPDATE;
  SELECT o.idempotency_key, o.balance_after INTO bad FROM (
      SELECT n.idempotency_key, n.amount, n.balance_after, w.balance AS wallet_balance, w.allow_negative,
             lag(n.balance_after) OVER (PARTITION BY n.guild_id, n.user_id, n.currency_key ORDER BY n.id)
               AS previous_after
        FROM new_rows n
        JOIN wallets w ON w.guild_id = n.guild_id AND w.user_id = n.user_id AND w.currency_key = n.currency_key) o
   WHERE o.balance_after - o.amount <> COALESCE(o.previous_after, o.wallet_balance)
      OR (o.balance_after < 0 AND NOT o.allow_negative)
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'batch posting %: balance_after % does not follow its wallet', bad.idempotency_key,
      bad.balance_after USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  PERFORM set_config('synapse.posting', 'on', true);
  UPDATE wallets w SET balance = w.balance + d.delta, updated_at = now()
    FROM (SELECT guild_id, user_id, currency_key, SUM(amount) AS delta FROM new_rows GROUP BY 1, 2, 3) d
   WHERE w.guild_id = d.guild_id AND w.user_id = d.user_id AND w.currency_key = d.currency_key;
  PERFORM set_config('synapse.posting', 'off', true);
  RETURN NULL;
END $$;

CREATE TRIGGER transactions_post_batch
  AFTER INSERT ON transactions REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION synapse_transactions_post_batch();
"""


def upgrade() -> None:
    op.execute(ROW_TRIGGER)
    op.execute(STATEMENT_TRIGGER)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS transactions_post_batch ON transactions")
    op.execute("DROP FUNCTION IF EXISTS synapse_transactions_post_batch()")
    op.execute(ROW_TRIGGER_BEFORE)
