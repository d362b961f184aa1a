"""Schemathesis over the whole API: no server error and no response outside the schema.

Every operation of ``/api/schema/`` is called with generated input (valid and invalid bodies,
query strings, path ids) against a live server holding the demo data, once as the importer's
BAM (two RM accounts, CADs, statements, payments, security, appeals) and once as the broker
(delegated for RM0001 only). Checks: ``not_a_server_error`` (no 5xx) and
``response_schema_conformance`` (every answer matches its documented schema).

Bounded and deterministic: ``CARM_FUZZ_EXAMPLES`` generated cases per operation (default 10 for
the importer, half for the broker: ~1,500 requests, 3-7 minutes on 2 cores; 20 or 30 by hand),
a fixed seed, the examples and fuzzing phases (the coverage phase, which also tries each field's
boundary values, takes ~10 minutes: run it by hand with ``CARM_FUZZ_PHASES=examples,coverage,fuzzing``), and a time budget (``CARM_FUZZ_MAX_SECONDS``,
default 270 s for the importer, 60 % of it for the broker): when it is spent the run stops and
the test fails if fewer than 90 operations were reached, so a slow machine never hangs CI. The
summary line prints the counts.

Opt-in: it runs when ``CARM_API_FUZZ=1`` (``.ci/run`` sets it in its own step); select or
exclude it with ``-m fuzz`` / ``-m "not fuzz"``.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from io import StringIO

import pytest

if not os.environ.get("CARM_API_FUZZ"):
    pytest.skip("API fuzzing is opt-in: CARM_API_FUZZ=1 (a separate step of .ci/run)", allow_module_level=True)

import schemathesis  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from schemathesis.config import SchemathesisConfig  # noqa: E402
from schemathesis.engine import Status, events, from_schema  # noqa: E402

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db(transaction=True)]

PASSWORD = "fuzz-pass-1"
SEED = int(os.environ.get("CARM_FUZZ_SEED", "20261130"))
EXAMPLES = int(os.environ.get("CARM_FUZZ_EXAMPLES", "10"))
PHASES = os.environ.get("CARM_FUZZ_PHASES", "examples,fuzzing").split(",")
MAX_SECONDS = float(os.environ.get("CARM_FUZZ_MAX_SECONDS", "270"))
CHECKS = ("not_a_server_error", "response_schema_conformance")


@pytest.fixture
def demo_tokens(live_server, settings):
    """The demo data, and an API token for each persona (through the real token endpoint)."""
    settings.AXES_ENABLED = False  # the fuzzer's wrong passwords must not lock the personas out
    call_command("seed_demo", password=PASSWORD, stdout=StringIO())
    client = Client()
    tokens = {}
    for persona, email in (("importer", "importer@example.com"), ("broker", "broker@example.com")):
        response = client.post("/api/v1/auth/token/", {"email": email, "password": PASSWORD})
        assert response.status_code == 200, response.content
        tokens[persona] = response.json()["token"]
    return tokens


def run_schemathesis(base_url: str, token: str, *, examples: int, budget: float) -> dict:
    config = SchemathesisConfig.from_dict({
        "seed": SEED,
        "headers": {"Authorization": f"Token {token}"},
        "generation": {"max-examples": examples},
        "phases": {phase: {"enabled": phase in PHASES} for phase in ("examples", "coverage", "fuzzing", "stateful")},
        "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        "workers": 1,
    })
    schema = schemathesis.openapi.from_url(f"{base_url}/api/schema/", config=config)
    started = time.monotonic()
    failures: Counter = Counter()
    samples: dict = {}
    operations: set[str] = set()
    requests = 0
    timed_out = False
    stream = from_schema(schema).execute()
    for event in stream:
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            operations.add(recorder.label)
            requests += len(recorder.interactions)
            for case_id, checks in recorder.checks.items():
                for check in checks:
                    if check.status != Status.SUCCESS:
                        key = (check.name, recorder.label)
                        failures[key] += 1
                        if key not in samples:
                            case = recorder.cases[case_id].value
                            interaction = recorder.interactions.get(case_id)
                            response = getattr(interaction, "response", None)
                            samples[key] = (
                                f"{case.method} {case.formatted_path} query={case.query} body={str(case.body)[:300]}"
                                f" -> {getattr(response, 'status_code', '?')}: {str(check.failure_info)[:500]}"
                            )
        elif isinstance(event, events.FatalError):
            raise AssertionError(f"schemathesis stopped: {event.exception!r}")
        if time.monotonic() - started > budget:
            stream.stop()
            timed_out = True
            break
    return {"operations": len(operations), "requests": requests, "failures": failures, "samples": samples,
            "seconds": time.monotonic() - started, "timed_out": timed_out}


@pytest.mark.parametrize(("persona", "share"), [("importer", 1.0), ("broker", 0.5)])
def test_no_server_error_and_every_response_matches_the_schema(live_server, demo_tokens, persona, share):
    budget = MAX_SECONDS * (1.0 if share == 1.0 else 0.6)
    result = run_schemathesis(live_server.url, demo_tokens[persona], examples=max(1, int(EXAMPLES * share)),
                              budget=budget)
    summary = (f"{persona}: {result['operations']} operations, {result['requests']} requests, "
               f"{sum(result['failures'].values())} failures in {result['seconds']:.0f} s"
               + (f" (time budget of {budget:.0f} s spent: stopped early)" if result["timed_out"] else ""))
    print(summary)
    problems = [f"{n} x {name} {label}\n    e.g. {result['samples'][(name, label)]}"
                for (name, label), n in sorted(result["failures"].items())]
    assert not problems, summary + "\n" + "\n".join(problems)
    assert result["operations"] >= 90, summary
