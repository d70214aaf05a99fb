"""Public endpoints against real PostgreSQL: read models from rollups, wallets and the lake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.api.conftest import GUILD, NOW, Api

G = f"/api/guilds/{GUILD}"


def seed_activity(api: Api) -> None:
    h = NOW.replace(minute=0)
    rows = [
        (h - timedelta(hours=1), "message_create", 10, 5, 0),
        (h - timedelta(hours=1), "message_create", 11, 2, 0),
        (h - timedelta(days=3), "message_create", 10, 4, 0),
        (h - timedelta(days=3), "reaction_add", 10, 3, 0),
        (h - timedelta(days=20), "message_create", 12, 7, 0),
        (h - timedelta(days=2), "voice_session_end", 13, 1, 1800),
        (h - timedelta(days=2), "member_join", 0, 2, 0),
        (h - timedelta(days=40), "message_create", 10, 100, 0),
    ]
    for hour, typ, ch, n, voice in rows:
        api.sql("""INSERT INTO activity_hourly (guild_id, hour, event_type, channel_id, events, voice_seconds)
                   VALUES (:g, :h, :t, :c, :n, :v)""", g=GUILD, h=hour, t=typ, c=ch, n=n, v=voice)
    for ago, user in [(timedelta(hours=1), 1), (timedelta(hours=2), 2), (timedelta(days=3), 3),
                      (timedelta(days=20), 4)]:
        api.sql("INSERT INTO member_daily (guild_id, day, user_id, messages) VALUES (:g, :d, :u, 1)",
                g=GUILD, d=(NOW - ago).date(), u=user)
        api.sql("""INSERT INTO member_cache (guild_id, user_id, display_name, last_seen_at)
                   VALUES (:g, :u, :n, :t)""", g=GUILD, u=user, n=f"user{user}", t=NOW - ago)


def test_guild_info_and_modules(api: Api) -> None:
    """The guild page lists its name, zone, modules and visible currencies."""
    r = api.client.get(G)
    assert r.status_code == 200
    body = r.json()
    assert body["name"] == "Test Guild" and body["timezone"] == "UTC"
    assert [c["key"] for c in body["currencies"]] == ["xp", "stars", "gold"]
    assert api.client.get(f"{G}/modules").json()["modules"]["economy"] is True


def test_unknown_guild_is_404_and_bad_ids_are_422(api: Api) -> None:
    """Unknown guilds are 404 with the error envelope; non-snowflakes are 422, never 500."""
    r = api.client.get("/api/guilds/123/overview")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    for bad in ["abc", "99999999999999999999", "9223372036854775808", "0"]:
        r = api.client.get(f"/api/guilds/{bad}/overview")
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["error"]["code"] == "validation_failed"


def test_overview_counts_windows_from_rollups(api: Api) -> None:
    """Overview sums rollups per window, counts active members, top channels and currency totals."""
    seed_activity(api)
    api.award(1, 500)
    api.award(2, 100)
    body = api.client.get(f"{G}/overview").json()
    assert body["windows"]["24h"] == {"events": 7, "messages": 7, "active_members": 2}
    assert body["windows"]["7d"] == {"events": 17, "messages": 11, "active_members": 3}
    assert body["windows"]["30d"] == {"events": 24, "messages": 18, "active_members": 4}
    assert body["top_channels"][0] == {"channel_id": "10", "events": 12, "name": None, "deleted": False}
    xp = next(c for c in body["currencies"] if c["key"] == "xp")
    assert xp["holders"] == 2 and xp["total"] == 600
    assert body["members_tracked"] == 4


def test_leaderboard_pages_with_cursor_and_hides_opted_out(api: Api) -> None:
    """Leaderboards page by cursor without gaps or repeats; opted-out members keep rank but no name."""
    for uid in range(1, 8):
        api.member(uid, f"m{uid}", opt_out=uid == 3)
        api.award(uid, 1000 - uid * 100 if uid != 5 else 600)  # 5 ties with 4 (600)
    seen = []
    cursor = None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        r = api.client.get(f"{G}/leaderboard/xp", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [e["rank"] for e in seen] == list(range(1, 8))
    assert [e["balance"] for e in seen] == [900, 800, 700, 600, 600, 400, 300]
    assert seen[2]["user_id"] is None and seen[2]["display_name"] is None
    assert seen[0]["user_id"] == "1" and seen[0]["display_name"] == "m1" and seen[0]["level"] == 4
    assert [e["user_id"] for e in seen[3:5]] == ["4", "5"]


def test_leaderboard_errors(api: Api) -> None:
    """Unknown currency → 404; garbage cursor → 422; economy module off → 404."""
    assert api.client.get(f"{G}/leaderboard/nope").status_code == 404
    r = api.client.get(f"{G}/leaderboard/xp", params={"cursor": "garbage!!"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["path"] == "cursor"
    api.client.put(f"{G}/admin/modules/economy", json={"enabled": False}, headers=api.auth())
    api.sql("UPDATE modules SET enabled = false WHERE guild_id = :g AND key = 'economy'", g=GUILD)
    assert api.client.get(f"{G}/leaderboard/xp").status_code == 404


def test_private_leaderboard_needs_admin(api: Api) -> None:
    """With public_leaderboard off, anonymous readers get 403 and admins of the guild still see it."""
    api.sql("UPDATE settings SET value = 'false' WHERE guild_id = :g AND key = 'public_leaderboard'", g=GUILD)
    assert api.client.get(f"{G}/leaderboard/xp").status_code == 403
    assert api.client.get(f"{G}/leaderboard/xp", headers=api.auth()).status_code == 200


def test_member_profile(api: Api) -> None:
    """A profile shows balances with level progress and rank; an opted-out member has none."""
    api.member(1, "ada")
    api.member(2, "bob", opt_out=True)
    api.award(1, 250)
    api.award(9, 400)
    body = api.client.get(f"{G}/members/1").json()
    xp = next(b for b in body["balances"] if b["currency"] == "xp")
    assert xp == {"currency": "xp", "name": "XP", "symbol": "✨", "balance": 250, "rank": 2, "level": 1,
                  "into_level": 150, "for_next": 155}
    assert api.client.get(f"{G}/members/2").status_code == 404
    assert api.client.get(f"{G}/members/5").status_code == 404
    assert api.client.get(f"{G}/members/x1").status_code == 422


def test_time_series_by_day_and_hour(api: Api) -> None:
    """The series fills empty buckets with zeros and reads active members per day."""
    seed_activity(api)
    r = api.client.get(f"{G}/activity", params={"bucket": "day", "start": "2025-03-09T00:00:00Z",
                                                "end": "2025-03-13T00:00:00Z"})
    assert r.status_code == 200, r.text
    pts = r.json()["points"]
    assert [p["t"][:10] for p in pts] == ["2025-03-09", "2025-03-10", "2025-03-11", "2025-03-12"]
    assert pts[0]["messages"] == 4 and pts[0]["reactions"] == 3 and pts[0]["active_members"] == 1
    assert pts[1]["voice_minutes"] == 30 and pts[1]["joins"] == 2
    assert pts[3]["messages"] == 7 and pts[3]["active_members"] == 2
    r = api.client.get(f"{G}/activity", params={"bucket": "hour"})
    assert r.status_code == 200 and len(r.json()["points"]) == 49  # 48 h back from 15:30, hour-aligned
    assert all(p["active_members"] is None for p in r.json()["points"])


def test_time_series_bad_ranges_are_422(api: Api) -> None:
    """Reversed, naive or huge ranges are rejected with a path, not a 500."""
    for params in [{"start": "2025-03-10T00:00:00Z", "end": "2025-03-01T00:00:00Z"},
                   {"start": "2025-03-01T00:00:00", "end": "2025-03-02T00:00:00"},
                   {"bucket": "hour", "start": "2000-01-01T00:00:00Z"},
                   {"bucket": "week"}, {"start": "yesterday"}]:
        r = api.client.get(f"{G}/activity", params=params)
        assert r.status_code == 422, (params, r.text)


def test_heatmap_uses_guild_time_zone(api: Api) -> None:
    """A message at 14:00 UTC on Wednesday lands at 23:00 Wednesday in Asia/Tokyo."""
    api.sql("""INSERT INTO activity_hourly (guild_id, hour, event_type, channel_id, events)
               VALUES (:g, :h, 'message_create', 1, 6)""", g=GUILD, h=datetime(2025, 3, 12, 14, tzinfo=UTC))
    cells = api.client.get(f"{G}/heatmap").json()["cells"]
    assert len(cells) == 168
    assert next(c for c in cells if c["messages"]) == {"weekday": 2, "hour": 14, "messages": 6}
    api.sql("UPDATE settings SET value = '\"Asia/Tokyo\"' WHERE guild_id = :g AND key = 'timezone'", g=GUILD)
    body = api.client.get(f"{G}/heatmap").json()
    assert body["timezone"] == "Asia/Tokyo"
    assert next(c for c in body["cells"] if c["messages"]) == {"weekday": 2, "hour": 23, "messages": 6}


def test_retention_cohorts(api: Api) -> None:
    """Members who joined in a week form a cohort; retained[k] counts those active k weeks later."""
    monday = datetime(2025, 3, 3, tzinfo=UTC)
    api.member(1, "a", joined_at=monday + timedelta(days=1))
    api.member(2, "b", joined_at=monday + timedelta(days=2))
    for day, user in [(monday.date() + timedelta(days=1), 1), (monday.date() + timedelta(days=8), 1),
                      (monday.date() + timedelta(days=2), 2)]:
        api.sql("INSERT INTO member_daily (guild_id, day, user_id, messages) VALUES (:g, :d, :u, 1)",
                g=GUILD, d=day, u=user)
    body = api.client.get(f"{G}/retention", params={"weeks": 2}).json()
    assert body["cohorts"][0] == {"week": "2025-03-03", "size": 2, "retained": [2, 1]}
    assert body["cohorts"][1] == {"week": "2025-03-10", "size": 0, "retained": [0]}


def test_milestones_gallery_and_ticker(api: Api) -> None:
    """The gallery counts earners; the ticker lists level-ups and milestones newest first, anonymised."""
    api.member(1, "ada")
    api.member(2, "bob", opt_out=True)
    api.sql("""INSERT INTO milestones (guild_id, key, name, criteria) VALUES (:g, 'first', 'First Post', '{}'),
               (:g, 'secret', 'Secret', '{}')""", g=GUILD)
    api.sql("UPDATE milestones SET hidden = true WHERE key = 'secret'")
    mid = api.sql("SELECT milestone_id FROM milestones WHERE key = 'first'")[0][0]
    api.sql("INSERT INTO user_milestones (guild_id, user_id, milestone_id, earned_at) VALUES (:g, 1, :m, :t)",
            g=GUILD, m=mid, t=NOW)
    gallery = api.client.get(f"{G}/milestones").json()
    assert [(m["key"], m["earned_count"]) for m in gallery] == [("first", 1)]
    for i, (typ, user, payload) in enumerate([("level_up", 1, '{"currency": "xp", "new_level": 5}'),
                                              ("milestone_earned", 2, f'{{"milestone_id": {mid}}}'),
                                              ("level_up", 1, '{"currency": "xp", "new_level": 6}')]):
        api.sql("""INSERT INTO event_lake (guild_id, source_system, source_event_id, event_type, user_id,
                   occurred_at, payload) VALUES (:g, 'synapse', :k, :t, :u, :at, CAST(:p AS jsonb))""",
                g=GUILD, k=f"e{i}", t=typ, u=user, at=NOW, p=payload)
    page = api.client.get(f"{G}/announcements", params={"limit": 2}).json()
    assert [a["text"] for a in page["items"]] == ["ada reached level 6 in xp", "Someone earned First Post"]
    assert page["items"][1]["user_id"] is None
    rest = api.client.get(f"{G}/announcements", params={"limit": 2, "cursor": page["next_cursor"]}).json()
    assert [a["text"] for a in rest["items"]] == ["ada reached level 5 in xp"] and rest["next_cursor"] is None


def test_disabled_module_endpoints_are_404(api: Api) -> None:
    """Analytics off → overview/activity/heatmap 404; milestones off → gallery 404; seasons off → 404."""
    api.sql("UPDATE modules SET enabled = false WHERE guild_id = :g AND key IN ('analytics', 'milestones')",
            g=GUILD)
    for path in ["overview", "activity", "heatmap", "retention", "milestones", "seasons"]:
        r = api.client.get(f"{G}/{path}")
        assert r.status_code == 404, path
        assert r.json()["error"]["code"] == "not_found"


def test_guild_rollups_follow_the_pipeline_rollups(api: Api) -> None:
    """Folding lake events (inserts, then updates of the same hour) and erasing a member keep the
    guild-level rollups equal to the pipeline's per-channel and per-member rollups."""
    from synapse.services.rollups import fold_guild

    def add(n: int, start: int) -> None:
        for i in range(start, start + n):
            api.sql("""INSERT INTO event_lake (guild_id, source_system, source_event_id, event_type, user_id,
                       channel_id, occurred_at) VALUES (:g, 'discord', :k, :t, :u, :c, :at)""",
                    g=GUILD, k=f"e{i}", t="message_create" if i % 3 else "reaction_add", u=1 + i % 4,
                    c=None if i % 5 == 0 else 10 + i % 2, at=NOW - timedelta(hours=i % 30))

    def fold() -> None:
        high = api.sql("SELECT max(id) FROM event_lake")[0][0]
        with api.engine.begin() as conn:
            fold_guild(conn, GUILD, high=high)

    add(40, 0)
    fold()
    add(40, 40)  # same hours again: the fold updates existing rows
    fold()
    assert api.sql("""SELECT hour, event_type, SUM(events) FROM activity_hourly GROUP BY 1, 2 ORDER BY 1, 2""") == \
        api.sql("SELECT hour, event_type, events FROM activity_guild_hourly ORDER BY 1, 2")
    assert api.sql("""SELECT CAST(hour AT TIME ZONE 'UTC' AS date), channel_id, SUM(events) FROM activity_hourly
                      WHERE channel_id <> 0 GROUP BY 1, 2 ORDER BY 1, 2""") == \
        api.sql("SELECT day, channel_id, events FROM activity_channel_daily ORDER BY 1, 2")
    daily = "SELECT CAST(day AS date), COUNT(*) FROM member_daily GROUP BY 1 ORDER BY 1"
    assert api.sql(daily) == api.sql("SELECT day, active_members FROM activity_guild_daily ORDER BY 1")
    api.sql("SET synapse.erasure = 'on'; DELETE FROM member_daily WHERE user_id = 2")
    assert api.sql(daily) == api.sql("SELECT day, active_members FROM activity_guild_daily "
                                     "WHERE active_members > 0 ORDER BY 1")
