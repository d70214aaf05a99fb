"""``python -m relay --dry-run`` as a black box: gateway frames on stdin, envelopes on stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

from synapse.config import PROJECT_ROOT
from synapse.eventlake.envelope import decode_envelope
from tests.relay import payloads as p

SECRET = "Zanzibar-8d21 is the password, do not log it"


def run(stdin: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SYNAPSE_FINGERPRINT_KEY": "cli-test-key", "SYNAPSE_LOG_LEVEL": "DEBUG"}
    env.pop("DISCORD_BOT_TOKEN", None)  # the dry run needs none and must not connect
    return subprocess.run([sys.executable, "-m", "relay", "--dry-run"], input=stdin, capture_output=True,
                          text=True, cwd=PROJECT_ROOT, env=env, timeout=60)


def capture() -> list[dict]:
    at = "2025-01-15T14:30:00Z"
    return [
        p.voice_update(p.NELLY, p.VOICE, received_at=at),  # before its guild: counted, not invented
        p.guild_create(voice_states=[p.voice_state(p.MASON, p.VOICE, with_member=False)]) | {"received_at": at},
        p.message_create(SECRET),
        p.reaction_add() | {"received_at": at},
        p.reaction_remove() | {"received_at": at},
        p.message_delete() | {"received_at": at},
        p.voice_update(p.NELLY, p.VOICE, received_at=at),
        p.voice_update(p.NELLY, p.VOICE_2, received_at=at),
        p.voice_update(p.NELLY, None, received_at=at),
        p.thread_create(),
        p.member_add(),
        p.member_remove() | {"received_at": at},
        {"op": 11},  # a heartbeat ACK: not a dispatch, ignored
        # Parsed by discord.py like any dispatch, but no cog listens: no event.
        {"op": 0, "s": 99, "t": "TYPING_START", "d": {"channel_id": p.TEXT, "guild_id": p.GUILD,
                                                      "user_id": p.NELLY, "timestamp": 1736951400,
                                                      "member": p.member(with_user=p.user(p.NELLY, "Nelly"))}},
    ]


def test_dry_run_prints_valid_envelopes_for_a_capture() -> None:
    """Every stdout line is an envelope the ingest side accepts; one event per capturable frame."""
    result = run(p.lines(capture()))
    assert result.returncode == 0, result.stderr
    envelopes = [line for line in result.stdout.splitlines() if line.strip()]
    events = [e for line in envelopes for e in decode_envelope(line)]
    kinds = Counter(e.event_type for e in events)
    assert kinds == Counter({"guild_join": 1, "voice_state_snapshot": 1, "message_create": 1, "reaction_add": 1,
                             "reaction_remove": 1, "message_delete": 1, "voice_join": 1, "voice_move": 1,
                             "voice_leave": 1, "thread_create": 1, "member_join": 1, "member_leave": 1})
    ids = {e.source_event_id for e in events}
    at = "2025-01-15T14:30:00.000Z"
    assert {f"voice_state_snapshot:{p.GUILD}:{at}", f"voice_join:{p.NELLY}:{p.VOICE}:{at}",
            f"voice_leave:{p.NELLY}:{p.VOICE_2}:{at}", f"member_leave:{p.NELLY}:{at}",
            "message_create:334385199974967042"} <= ids
    assert SECRET not in result.stdout and SECRET not in result.stderr
    assert "Zanzibar" not in result.stdout + result.stderr


def test_dry_run_replays_identically() -> None:
    """Same capture (with received_at) → byte-identical output: ids are stable across replays."""
    frames = p.lines(capture())
    assert run(frames).stdout == run(frames).stdout


def test_dry_run_reports_frames_it_cannot_use_on_stderr() -> None:
    """Unknown-guild frames and non-JSON lines are counted in a JSON summary; bad input fails the run."""
    result = run(p.lines(capture()) + "this is not json\n")
    assert result.returncode == 1
    logs = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    [summary] = [entry for entry in logs if entry["msg"] == "dry run finished"]
    assert summary["unknown_guild"] == 1 and summary["errors"] == 1 and summary["ignored"] == 1
    assert any(entry["msg"].startswith("frame for a guild not in the capture") for entry in logs)
