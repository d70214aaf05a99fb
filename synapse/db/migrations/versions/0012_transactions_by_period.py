"""Transactions by currency and time: what period leaderboards (this week / month / season) sum.

A period board sums each member's transactions of one currency in a time window. The existing
indexes all start with the member (``ix_transactions_member_currency_time``), so a window over
the whole guild had to read every transaction of the guild. This one is a range scan of the
window, index-only (``user_id``, ``amount`` included; transactions are append-only, so the
visibility map stays set), and partial: ``season_reset`` and ``import`` rows never count on a
period board, so they are not indexed.

Revision ID: 0012
Revises: 0010
"""

from alembic import op
import sqlalchemy as sa

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_transactions_period", "transactions", ["guild_id", "currency_key", "occurred_at"],
                    postgresql_include=["user_id", "amount"],
                    postgresql_where=sa.text("kind NOT IN ('season_reset', 'import')"))


def downgrade() -> None:
    op.drop_index("ix_transactions_period", table_name="transactions")
