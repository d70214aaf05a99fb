"""Batch postings skip the per-row trigger call: ``transactions_post`` gets a ``WHEN`` clause.

In batch mode (``synapse.batch_posting = 'on'``, migration 0007) the row trigger's function only
returned ``NEW``: the statement trigger checks every wallet's chain from its balance and the
no-negative rule in one set-based pass over the statement's rows, then moves each wallet once. The
call still cost a PL/pgSQL invocation per row (one ledger row per event on average at ingest). With
``WHEN (current_setting('synapse.batch_posting', true) IS DISTINCT FROM 'on')`` PostgreSQL skips it
in batch mode and calls it, as before, for every other insert. The checks are unchanged:
``tests/integration/test_ledger.py`` proves that a ``balance_after`` that does not follow its
wallet, breaks the chain or dips below zero is refused, and that outside batch mode the row
trigger still computes ``balance_after``.

Revision ID: 0014
Revises: 0012
"""

from alembic import op

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DROP TRIGGER transactions_post ON transactions")
    op.execute("""
        CREATE TRIGGER transactions_post
          BEFORE INSERT ON transactions
          FOR EACH ROW WHEN (current_setting('synapse.batch_posting', true) IS DISTINCT FROM 'on')
          EXECUTE FUNCTION synapse_transactions_post()""")


def downgrade() -> None:
    op.execute("DROP TRIGGER transactions_post ON transactions")
    op.execute("""
        CREATE TRIGGER transactions_post
          BEFORE INSERT ON transactions
          FOR EACH ROW EXECUTE FUNCTION synapse_transactions_post()""")
