"""The guild directory: a cache of a guild's channels and roles (names for ids), and its AFK channel.

DESIGN.md §2: static data (channels, roles) is fetched from Discord on demand and cached, not
captured. ``guild_directory`` holds one row per channel or role (``kind``), refreshed from
Discord REST by ``synapse.services.directory`` (TTL, "refresh now") and kept current by the
relay's ``channel_update``/``role_update``/``guild_update`` events. A channel or role that
vanished keeps its row with ``deleted_at`` set, so pages can show "#old-name (deleted)" and rule
saves can flag it. ``guild_directory_state`` holds per guild what is not a channel or a role: the
AFK channel (voice XP excludes it by default), the bot's own role ids (to know which roles it can
assign) and when the directory was last fetched.

Revision ID: 0010
Revises: 0008
"""

from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None

UP = """
CREATE TABLE guild_directory (
  guild_id bigint NOT NULL,
  kind text NOT NULL,
  id bigint NOT NULL,
  name text NOT NULL DEFAULT '',
  type integer,
  position integer NOT NULL DEFAULT 0,
  parent_id bigint,
  managed boolean NOT NULL DEFAULT false,
  color integer NOT NULL DEFAULT 0,
  deleted_at timestamptz,
  fetched_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT pk_guild_directory PRIMARY KEY (guild_id, kind, id),
  CONSTRAINT ck_guild_directory_kind CHECK (kind IN ('channel', 'role'))
);

CREATE TABLE guild_directory_state (
  guild_id bigint NOT NULL,
  afk_channel_id bigint,
  bot_role_ids bigint[] NOT NULL DEFAULT '{}',
  refreshed_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT pk_guild_directory_state PRIMARY KEY (guild_id)
);
"""

DOWN = """
DROP TABLE guild_directory_state;
DROP TABLE guild_directory;
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute(DOWN)
