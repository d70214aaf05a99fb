"""Property-based run over the OpenAPI document (schemathesis + hypothesis): no input gives a 5xx.

Every operation of the document is exercised with generated valid and invalid requests, as an
admin of the seeded guild (so admin handlers run, not just the auth check), anonymously, and
against the guild the data lives in most of the time. Bounded: a fixed number of examples,
derandomised, so the run is reproducible and takes seconds.
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.conftest import GUILD, Api

EXAMPLES_PER_OPERATION = 10


def seed(api: Api) -> None:
    api.member(1, "ada")
    api.award(1, 500)
    api.sql("UPDATE modules SET enabled = true WHERE guild_id = :g", g=GUILD)
    api.client.post(f"/api/guilds/{GUILD}/admin/seasons", json={"name": "S1"}, headers=api.auth())


def test_no_5xx_anywhere_in_the_openapi_document(api: Api) -> None:
    """Generated requests (valid and invalid) to every operation answer < 500 with the error envelope."""
    seed(api)
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", api.client.app)
    token = api.token()
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50

    def check(case: Any, real_guild: bool, authed: bool) -> None:
        if real_guild and case.path_parameters and "guild_id" in case.path_parameters:
            case.path_parameters["guild_id"] = str(GUILD)
        headers = {"Authorization": f"Bearer {token}"} if authed else {}
        if case.operation.path.endswith("/roll") or case.operation.path.endswith("/erase"):
            headers = {}  # keep the seeded season and members for the other operations
        response = case.call(headers=headers)
        if response.status_code >= 500:
            failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: "
                            f"{response.text[:300]}")
        elif response.status_code >= 400 and response.headers.get("content-type", [""])[0].startswith(
                "application/json"):
            body = json.loads(response.text)
            if set(body) != {"error"} or not {"code", "message", "details"} <= set(body["error"]):
                failures.append(f"{case.method} {case.formatted_path}: not the error envelope: {response.text[:200]}")

    for operation in operations:  # every operation, a bounded number of examples each
        strategy = st.one_of(operation.as_strategy(),
                             operation.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE))

        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=strategy, real_guild=st.booleans(), authed=st.sampled_from([True, True, False]))
        def run(case: Any, real_guild: bool, authed: bool) -> None:
            check(case, real_guild, authed)

        run()
    assert not failures, "\n".join(sorted(set(failures))[:20])
