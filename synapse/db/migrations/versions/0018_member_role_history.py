"""``member_role_history``: the roles each member held from when, so a backtest (and a live run's voice ticks)
gives an event the roles in force when it happened, not the ones the member cache holds now.

The lake stores no member data per event (roles are display data the relay sends with each event: cached,
not stored). Before this, a backtest gave every event its member's current roles: a member who got the
"Veteran" role last week had their messages of last year multiplied as a veteran's, and a voice session's
ticks took the roles of when the session ended, not of each minute.

One row per change: ``since`` is the time of the event whose actor first reported ``roles`` (sorted ids);
the roles in force at a time are those of the latest row at or before it. The member cache's refresh
(``services.members``) writes a row only when the reported roles differ from those in force then, so the
table grows with role changes, not with events. Members already cached start with their cached roles from
``-infinity`` (what a backtest assumed for all time before). Erasure deletes a member's rows.

Revision ID: 0018
Revises: 0017
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

UP = """
CREATE TABLE member_role_history (
  guild_id bigint NOT NULL,
  user_id bigint NOT NULL,
  since timestamptz NOT NULL,
  roles bigint[] NOT NULL,
  CONSTRAINT pk_member_role_history PRIMARY KEY (guild_id, user_id, since)
);
INSERT INTO member_role_history (guild_id, user_id, since, roles)
SELECT guild_id, user_id, '-infinity', ARRAY(SELECT DISTINCT r FROM unnest(roles) AS r ORDER BY r)
  FROM member_cache;
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS member_role_history")
