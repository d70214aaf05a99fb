"""/rank and /profile rank cards: the embed answers at once; a follow-up job attaches the PNG.

The job runs against the fake Discord server, which also plays the CDN serving the avatar; each
card is decoded with Pillow (signature, format, size, and the avatar's pixels where it is drawn).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from functions.followups import handle
from synapse.interactions import rankcard
from synapse.interactions.rankcard import AVATAR, HEIGHT, WIDTH, CardData, initials, render
from synapse.ledger.curves import LevelCurve, PolynomialCurve
from tests.interactions import payloads as p
from tests.interactions.conftest import World, _world, reset, take_jobs
from tests.support.fake_discord import FakeDiscord

EVE = p.user(53908232506183680, "eve", global_name="Eve")
BOB = p.user(175928847299117063, "bob", avatar=None)
PLAIN = p.member(EVE)
CURVE = LevelCurve(PolynomialCurve())   # the default xp curve
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
RED = (220, 20, 30)
AVATAR_CENTRE = (48 + AVATAR // 2, (HEIGHT - AVATAR) // 2 + AVATAR // 2)


@pytest.fixture
def card_world(module_db: str, azurite: Any, queue_name: str, fake: FakeDiscord) -> Iterator[World]:
    """The queued world (Azurite follow-up queue, fake Discord) with the fake's CDN for avatars."""
    reset(module_db)
    for w in _world(module_db, storage_connection=azurite.connection_string, followup_queue=queue_name,
                    discord_api_base=fake.base_url, discord_bot_token=fake.bot_token,
                    discord_cdn_base=fake.cdn_base):
        w.fake = fake
        w.extra["queue"] = queue_name
        w.extra["azurite"] = azurite
        yield w


def _png(colour: tuple[int, int, int], size: tuple[int, int] = (128, 128)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def _decode(data: bytes) -> Image.Image:
    assert data[:8] == PNG_SIGNATURE
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.size == (WIDTH, HEIGHT)
    image.load()
    return image


def _close(a: tuple[int, ...], b: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=False))


def _ask(w: World, command: str, invoker: dict[str, Any] = PLAIN,
         options: list[dict[str, Any]] | None = None, **extra: Any) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    """Send the command; return (payload, immediate answer, the one follow-up job)."""
    payload = p.command(command, invoker, options or [], **extra)
    answer = w.ok(payload)
    [job] = take_jobs(w)
    return payload, answer, job


def test_rank_answers_with_the_embed_then_the_job_attaches_a_png_card(card_world: World) -> None:
    """/rank: embed at once (type 4); the job PATCHes @original with files[0] = a 934×282 PNG with the avatar."""
    w = card_world
    assert w.fake is not None
    w.seed_member(int(EVE["id"]), "eve", xp=300)
    w.seed_member(int(BOB["id"]), "bob", xp=900)
    w.fake.avatars[(EVE["id"], EVE["avatar"])] = _png(RED)
    payload, answer, job = _ask(w, "rank")
    assert answer["type"] == 4
    embed = answer["data"]["embeds"][0]
    assert embed["title"] == "Eve's profile" and f"**Level {CURVE.level_for(300)}**" in embed["description"]
    assert "rank **#2**" in embed["description"]               # the text fallback is complete on its own
    body = json.loads(job)
    assert body["kind"] == "rank_card" and body["target_id"] == EVE["id"] and body["avatar"] == EVE["avatar"]

    assert handle(job, rest=w.fake.client()) == "done"
    [upload] = w.fake.uploads
    assert upload["field"] == "files[0]" and upload["filename"] == rankcard.FILENAME
    assert upload["content_type"] == "image/png"
    assert upload["path"].endswith(f"/{payload['token']}/messages/@original")
    card = _decode(upload["content"]).convert("RGB")
    assert _close(card.getpixel(AVATAR_CENTRE), RED)           # the CDN's avatar, drawn in its circle
    assert not _close(card.getpixel((10, 10)), RED)            # and nowhere else
    [cdn] = [r for r in w.fake.requests if r.path.startswith("/avatars/")]
    assert cdn.path == f"/avatars/{EVE['id']}/{EVE['avatar']}.png" and "authorization" not in cdn.headers
    edited = w.fake.interaction_responses[payload["token"]]
    assert edited["embeds"][0]["image"] == {"url": "attachment://rank.png"}
    assert edited["embeds"][0]["title"] == "Eve's profile"     # the embed stays beside the card
    assert [a["filename"] for a in edited["attachments"]] == ["rank.png"]
    [sent] = w.fake.requests_to("PATCH /webhooks/{webhook_id}/{webhook_token}/messages/@original")
    assert sent.json["allowed_mentions"] == {"parse": []}      # what was sent (Discord does not echo it)


def test_profile_gets_the_card_too_and_a_missing_avatar_draws_initials(card_world: World) -> None:
    """/profile queues the same job; with no avatar on the CDN (404) the card shows generated initials."""
    w = card_world
    assert w.fake is not None
    w.seed_member(int(EVE["id"]), "eve", xp=50)
    _, answer, job = _ask(w, "profile")
    assert answer["type"] == 4 and json.loads(job)["kind"] == "rank_card"
    assert handle(job, rest=w.fake.client()) == "done"
    card = _decode(w.fake.uploads[0]["content"]).convert("RGB")
    progress = CURVE.progress(50)
    expected = render(CardData("Eve", None, level=progress.level, into_level=progress.into_level,
                               for_next=progress.for_next, rank=1))
    assert card.getpixel(AVATAR_CENTRE) == _decode(expected).convert("RGB").getpixel(AVATAR_CENTRE)
    assert any(r.path.startswith("/avatars/") and r.status == 404 for r in w.fake.requests)


def test_card_of_another_member_uses_their_avatar_and_name(card_world: World) -> None:
    """/rank member:bob draws Bob's card (no avatar hash: initials, no CDN request)."""
    w = card_world
    assert w.fake is not None
    w.seed_member(int(BOB["id"]), "bob", xp=900)
    _, answer, job = _ask(w, "rank", options=[p.user_opt("member", BOB["id"])], resolved_data=p.resolved(BOB))
    assert answer["data"]["embeds"][0]["title"] == "bob's profile"
    assert json.loads(job)["target_id"] == BOB["id"] and json.loads(job)["avatar"] is None
    assert handle(job, rest=w.fake.client()) == "done"
    _decode(w.fake.uploads[0]["content"])
    assert not [r for r in w.fake.requests if r.path.startswith("/avatars/")]


def test_render_failure_leaves_the_embed_and_calls_discord_not_at_all(card_world: World,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A card that cannot be drawn is a "fallback": no edit, no retry; the embed already answered."""
    w = card_world
    assert w.fake is not None
    w.seed_member(int(EVE["id"]), "eve", xp=50)
    _, answer, job = _ask(w, "rank")
    assert answer["data"]["embeds"][0]["title"] == "Eve's profile"

    def broken(card: CardData) -> bytes:
        raise OSError("no font today")

    monkeypatch.setattr(rankcard, "render", broken)
    assert handle(job, rest=w.fake.client()) == "fallback"
    assert w.fake.uploads == [] and not w.fake.requests_to(
        "PATCH /webhooks/{webhook_id}/{webhook_token}/messages/@original")


def test_discord_refusing_the_edit_is_dropped_but_a_5xx_is_retried(card_world: World) -> None:
    """A 404 (answer deleted) ends the job as "fallback"; a 500 raises so the queue tries again."""
    w = card_world
    assert w.fake is not None
    w.seed_member(int(EVE["id"]), "eve", xp=50)
    _, _, job = _ask(w, "rank")
    route = "PATCH /webhooks/{webhook_id}/{webhook_token}/messages/@original"
    w.fake.fail_next(route, 404, code=10008)
    assert handle(job, rest=w.fake.client()) == "fallback"
    w.fake.fail_next(route, 500, n=10)
    with pytest.raises(Exception, match="500"):
        handle(job, rest=w.fake.client(backoff_base=0, backoff_max=0))


def test_no_card_job_when_the_queue_is_down_and_the_embed_still_answers(world: World,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Storage down: /rank answers with its embed (not an error); only the picture is missing."""
    import synapse.interactions.context as context

    def down(settings: Any) -> Any:
        def send(job: dict[str, Any]) -> None:
            raise ConnectionError("queue unreachable")
        return send

    monkeypatch.setattr(context, "queue_sender", down)
    world.seed_member(int(EVE["id"]), "eve", xp=50)
    answer = world.ok(p.command("rank", PLAIN))
    assert answer["type"] == 4 and "flags" not in answer["data"]
    assert answer["data"]["embeds"][0]["title"] == "Eve's profile"


def test_unknown_member_gets_no_card_job(card_world: World) -> None:
    """/rank by someone Synapse has never seen: the ephemeral explanation, and no job."""
    answer = card_world.ok(p.command("rank", PLAIN))
    assert answer["data"]["flags"] == 64 and take_jobs(card_world) == []


def test_renderer_survives_hostile_avatars_and_long_names() -> None:
    """Garbage bytes, a huge image header or an animated GIF avatar still give a valid card."""
    gif = io.BytesIO()
    frames = [Image.new("RGB", (64, 64), c) for c in (RED, (0, 0, 255))]
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:])
    huge = io.BytesIO()
    Image.new("1", (5000, 5000)).save(huge, format="PNG")
    for avatar in (b"not an image", huge.getvalue(), gif.getvalue(), b"", None):
        card = _decode(render(CardData("x" * 300, avatar, level=7, into_level=5, for_next=0, rank=10**6,
                                       rank_exact=False)))
        assert card.mode == "RGBA"
    first_frame = _decode(render(CardData("g", gif.getvalue(), level=1))).convert("RGB")
    assert _close(first_frame.getpixel(AVATAR_CENTRE), RED)


def test_initials() -> None:
    """First letters of the first two words; names without letters get a question mark."""
    assert [initials(n) for n in ("ada lovelace", "bob", "grace_hopper", "  ", "🙂")] == ["AL", "B", "GH", "?", "?"]
