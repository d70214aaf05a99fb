"""Wallets are rewritten on every posting: vacuum them often so dead versions do not slow postings.

Every transaction updates its wallet row (and its leaderboard index entry), so a busy
guild leaves many dead row versions behind; with the default thresholds autovacuum waits
for 20% of the table to be dead, and postings meanwhile walk ever longer version chains
(measured: ~100 µs per posting right after VACUUM, 500–900 µs before it).

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE wallets SET (autovacuum_vacuum_scale_factor = 0.01, "
               "autovacuum_vacuum_threshold = 500, autovacuum_analyze_scale_factor = 0.02)")


def downgrade() -> None:
    op.execute("ALTER TABLE wallets RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold, "
               "autovacuum_analyze_scale_factor)")
