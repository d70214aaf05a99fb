"""Level roles: a "level N → role" table per levelled currency (the Level roles page).

``level_roles`` holds one row per (currency, level): the role a member gets on reaching that level
of that currency. ``level_role_mode`` (a guild setting, stack | replace) says whether the lower ones
are kept. The engine compiles the table into the guild's rules (``rules.compile.level_role_rule``).

Also: the settings ``levelup_template`` and ``milestone_template`` now drive the default announce
rules; a guild still holding the old, never-used defaults gets the texts it has been posting all along
("GG …"), so nothing changes for it until an admin edits them.

Revision ID: 0015
Revises: 0014
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

UP = """
CREATE TABLE level_roles (
  guild_id bigint NOT NULL,
  currency_key text NOT NULL,
  level integer NOT NULL,
  role_id bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT pk_level_roles PRIMARY KEY (guild_id, currency_key, level),
  CONSTRAINT ck_level_roles_level CHECK (level >= 1 AND level <= 100000),
  CONSTRAINT uq_level_roles_role UNIQUE (guild_id, currency_key, role_id)
);

UPDATE settings SET value = to_jsonb('GG {member}, you just advanced to level {level}!'::text), updated_at = now()
 WHERE key = 'levelup_template' AND value = to_jsonb('{mention} reached **level {level}** in {currency}!'::text);
UPDATE settings SET value = to_jsonb('{member} earned **{milestone_name}**!'::text), updated_at = now()
 WHERE key = 'milestone_template' AND value = to_jsonb('{mention} earned **{milestone}** {emoji}'::text);
"""

DOWN = """
DROP TABLE level_roles;
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute(DOWN)
