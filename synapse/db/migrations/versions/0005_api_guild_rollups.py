"""Guild-level rollups for the dashboard API, kept in step with the pipeline's rollups by triggers.

``activity_hourly`` is per channel (up to ~50× the rows a guild-wide chart needs) and
``member_daily`` per member; summing them for every dashboard request costs tens of
milliseconds at 10M events. Two small tables are derived from them, incrementally, by
statement-level triggers with transition tables (one statement of the rollup timer → one
aggregate upsert here), so they can never disagree with their sources:

- ``activity_guild_hourly(guild, hour, event_type)``: ``events``, ``voice_seconds`` summed over
  channels (time series, heatmap, overview counts);
- ``activity_channel_daily(guild, UTC day, channel)``: ``events`` (top channels);
- ``activity_guild_daily(guild, day)``: ``active_members`` = number of ``member_daily`` rows of
  the day (a row exists iff the member did something that UTC day); erasure deletes rows
  and the count follows.

Outbound webhooks on ``level_up`` and ``milestone_earned``: the engine writes those as derived
events into the lake, in the ingest transaction; a statement-level trigger on ``event_lake``
turns them into outbox rows (kind ``webhook``) for every subscribed webhook, in that same
transaction, so no writer can forget them. Rows are picked up by the announce worker's sweep
(they are not in the ingest's own enqueue list), signed and retried there.

Plus ``ix_member_cache_seen`` (partial: humans; ``INCLUDE left_at``) so "members tracked" and
"active in the last 24 h / 7 d / 30 d" are one index-only scan (``last_seen_at`` is the member's
latest event time, kept by the ingest service).

Revision ID: 0005
Revises: 0002
"""

from alembic import op

revision = "0005"
down_revision = "0002"
branch_labels = None
depends_on = None

UP = """
CREATE TABLE activity_guild_hourly (
  guild_id bigint NOT NULL,
  hour timestamptz NOT NULL,
  event_type text NOT NULL,
  events bigint NOT NULL DEFAULT 0,
  voice_seconds bigint NOT NULL DEFAULT 0,
  CONSTRAINT pk_activity_guild_hourly PRIMARY KEY (guild_id, hour, event_type)
);
CREATE TABLE activity_channel_daily (
  guild_id bigint NOT NULL,
  day date NOT NULL,
  channel_id bigint NOT NULL,
  events bigint NOT NULL DEFAULT 0,
  CONSTRAINT pk_activity_channel_daily PRIMARY KEY (guild_id, day, channel_id)
);
CREATE TABLE activity_guild_daily (
  guild_id bigint NOT NULL,
  day date NOT NULL,
  active_members integer NOT NULL DEFAULT 0,
  CONSTRAINT pk_activity_guild_daily PRIMARY KEY (guild_id, day)
);
CREATE INDEX ix_member_cache_seen ON member_cache (guild_id, last_seen_at) INCLUDE (left_at) WHERE NOT is_bot;

CREATE FUNCTION synapse_guild_hourly_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO activity_guild_hourly AS a (guild_id, hour, event_type, events, voice_seconds)
  SELECT guild_id, hour, event_type, SUM(events), SUM(voice_seconds) FROM new_rows GROUP BY 1, 2, 3
  ON CONFLICT (guild_id, hour, event_type) DO UPDATE
     SET events = a.events + EXCLUDED.events, voice_seconds = a.voice_seconds + EXCLUDED.voice_seconds;
  INSERT INTO activity_channel_daily AS c (guild_id, day, channel_id, events)
  SELECT guild_id, CAST(hour AT TIME ZONE 'UTC' AS date), channel_id, SUM(events) FROM new_rows
   WHERE channel_id <> 0 GROUP BY 1, 2, 3
  ON CONFLICT (guild_id, day, channel_id) DO UPDATE SET events = c.events + EXCLUDED.events;
  RETURN NULL;
END $$;

CREATE FUNCTION synapse_guild_hourly_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO activity_guild_hourly AS a (guild_id, hour, event_type, events, voice_seconds)
  SELECT n.guild_id, n.hour, n.event_type, SUM(n.events - o.events), SUM(n.voice_seconds - o.voice_seconds)
    FROM new_rows n JOIN old_rows o
      ON o.guild_id = n.guild_id AND o.hour = n.hour AND o.event_type = n.event_type AND o.channel_id = n.channel_id
   GROUP BY 1, 2, 3
  ON CONFLICT (guild_id, hour, event_type) DO UPDATE
     SET events = a.events + EXCLUDED.events, voice_seconds = a.voice_seconds + EXCLUDED.voice_seconds;
  INSERT INTO activity_channel_daily AS c (guild_id, day, channel_id, events)
  SELECT n.guild_id, CAST(n.hour AT TIME ZONE 'UTC' AS date), n.channel_id, SUM(n.events - o.events)
    FROM new_rows n JOIN old_rows o
      ON o.guild_id = n.guild_id AND o.hour = n.hour AND o.event_type = n.event_type AND o.channel_id = n.channel_id
   WHERE n.channel_id <> 0 GROUP BY 1, 2, 3
  ON CONFLICT (guild_id, day, channel_id) DO UPDATE SET events = c.events + EXCLUDED.events;
  RETURN NULL;
END $$;

CREATE FUNCTION synapse_guild_hourly_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE activity_guild_hourly a SET events = a.events - d.events, voice_seconds = a.voice_seconds - d.voice
    FROM (SELECT guild_id, hour, event_type, SUM(events) AS events, SUM(voice_seconds) AS voice
            FROM old_rows GROUP BY 1, 2, 3) d
   WHERE a.guild_id = d.guild_id AND a.hour = d.hour AND a.event_type = d.event_type;
  UPDATE activity_channel_daily c SET events = c.events - d.events
    FROM (SELECT guild_id, CAST(hour AT TIME ZONE 'UTC' AS date) AS day, channel_id, SUM(events) AS events
            FROM old_rows WHERE channel_id <> 0 GROUP BY 1, 2, 3) d
   WHERE c.guild_id = d.guild_id AND c.day = d.day AND c.channel_id = d.channel_id;
  RETURN NULL;
END $$;

CREATE TRIGGER activity_hourly_guild_insert AFTER INSERT ON activity_hourly
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION synapse_guild_hourly_add();
CREATE TRIGGER activity_hourly_guild_update AFTER UPDATE ON activity_hourly
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
  EXECUTE FUNCTION synapse_guild_hourly_change();
CREATE TRIGGER activity_hourly_guild_delete AFTER DELETE ON activity_hourly
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION synapse_guild_hourly_remove();

CREATE FUNCTION synapse_guild_daily_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO activity_guild_daily AS a (guild_id, day, active_members)
  SELECT guild_id, CAST(day AS date), COUNT(*) FROM new_rows GROUP BY 1, 2
  ON CONFLICT (guild_id, day) DO UPDATE SET active_members = a.active_members + EXCLUDED.active_members;
  RETURN NULL;
END $$;

CREATE FUNCTION synapse_guild_daily_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE activity_guild_daily a SET active_members = a.active_members - d.n
    FROM (SELECT guild_id, CAST(day AS date) AS day, COUNT(*) AS n FROM old_rows GROUP BY 1, 2) d
   WHERE a.guild_id = d.guild_id AND a.day = d.day;
  RETURN NULL;
END $$;

CREATE TRIGGER member_daily_guild_insert AFTER INSERT ON member_daily
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION synapse_guild_daily_add();
CREATE TRIGGER member_daily_guild_delete AFTER DELETE ON member_daily
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION synapse_guild_daily_remove();

CREATE FUNCTION synapse_lake_webhooks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO outbox (guild_id, kind, dedupe_key, payload)
  SELECT n.guild_id, 'webhook', 'webhook:' || w.webhook_id || ':' || n.event_type || ':' || n.id,
         jsonb_build_object('webhook_id', w.webhook_id, 'event', n.event_type,
           'body', jsonb_build_object('event', n.event_type, 'guild_id', n.guild_id::text,
             'data', n.payload || jsonb_build_object('user_id', n.user_id::text, 'event_id', n.id,
                                                     'occurred_at', n.occurred_at)))
    FROM new_rows n
    JOIN webhooks w ON w.guild_id = n.guild_id AND w.enabled AND n.event_type = ANY(w.events)
   WHERE n.event_type IN ('level_up', 'milestone_earned')
  ON CONFLICT (guild_id, dedupe_key) DO NOTHING;
  RETURN NULL;
END $$;

CREATE TRIGGER event_lake_webhooks AFTER INSERT ON event_lake
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION synapse_lake_webhooks();

INSERT INTO activity_guild_hourly (guild_id, hour, event_type, events, voice_seconds)
SELECT guild_id, hour, event_type, SUM(events), SUM(voice_seconds) FROM activity_hourly GROUP BY 1, 2, 3;
INSERT INTO activity_channel_daily (guild_id, day, channel_id, events)
SELECT guild_id, CAST(hour AT TIME ZONE 'UTC' AS date), channel_id, SUM(events) FROM activity_hourly
 WHERE channel_id <> 0 GROUP BY 1, 2, 3;
INSERT INTO activity_guild_daily (guild_id, day, active_members)
SELECT guild_id, CAST(day AS date), COUNT(*) FROM member_daily GROUP BY 1, 2;
"""

DOWN = """
DROP TRIGGER IF EXISTS event_lake_webhooks ON event_lake;
DROP FUNCTION IF EXISTS synapse_lake_webhooks();
DROP TRIGGER IF EXISTS member_daily_guild_delete ON member_daily;
DROP TRIGGER IF EXISTS member_daily_guild_insert ON member_daily;
DROP FUNCTION IF EXISTS synapse_guild_daily_remove();
DROP FUNCTION IF EXISTS synapse_guild_daily_add();
DROP TRIGGER IF EXISTS activity_hourly_guild_delete ON activity_hourly;
DROP TRIGGER IF EXISTS activity_hourly_guild_update ON activity_hourly;
DROP TRIGGER IF EXISTS activity_hourly_guild_insert ON activity_hourly;
DROP FUNCTION IF EXISTS synapse_guild_hourly_remove();
DROP FUNCTION IF EXISTS synapse_guild_hourly_change();
DROP FUNCTION IF EXISTS synapse_guild_hourly_add();
DROP INDEX IF EXISTS ix_member_cache_seen;
DROP TABLE IF EXISTS activity_guild_daily;
DROP TABLE IF EXISTS activity_channel_daily;
DROP TABLE IF EXISTS activity_guild_hourly;
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute(DOWN)
