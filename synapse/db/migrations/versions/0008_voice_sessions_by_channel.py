"""Voice sessions by channel and end: what a tick's company is read from.

The company a voice tick counts (other members' sessions in the channel overlapping the tick's
span) was read by channel with only the index of *open* sessions to help: every closed session
of the guild was scanned, once per closing session, so a guild's voice history slowed every leave.
This index answers "sessions of this channel still open at T or later" directly
(``ended_at > T`` here, ``ended_at IS NULL`` from ``ix_voice_sessions_open_channel``).

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_voice_sessions_channel_end", "voice_sessions", ["guild_id", "channel_id", "ended_at"])


def downgrade() -> None:
    op.drop_index("ix_voice_sessions_channel_end", table_name="voice_sessions")
