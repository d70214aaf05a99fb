"""guild_directory.booster: the server-booster role (Discord tags it ``premium_subscriber``), so the
rule form can offer "Server boosters" by name. Additive; existing rows read false until the next fetch.

Revision ID: 0016
Revises: 0015
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE guild_directory ADD COLUMN booster boolean NOT NULL DEFAULT false")


def downgrade() -> None:
    op.execute("ALTER TABLE guild_directory DROP COLUMN booster")
