"""Schemathesis over the whole API: no server error and no response outside the schema.

Every operation of ``/api/schema/`` is called with generated input (valid and invalid bodies,
query strings, path ids) against a live server holding the demo data, once as the importer's
BAM (two RM accounts, CADs, statements, payments, security, appeals) and once as the broker
(delegated for RM0001 only). Checks: ``not_a_server_error`` (no 5xx) and
``response_schema_conformance`` (every answer matches its documented schema).

Bounded and deterministic: ``CARM_FUZZ_EXAMPLES`` generated cases per operation (default 20 for
the importer, half for the broker: ~3,100 requests, 4-6 minutes on 2 cores shared with other work,
on a one-thread live server with one database connection; 30 by hand),
a fixed seed, the examples and fuzzing phases (the coverage phase, which also tries each field's
boundary values, takes ~10 minutes: run it by hand with ``CARM_FUZZ_PHASES=examples,coverage,fuzzing``), and a time budget (``CARM_FUZZ_MAX_SECONDS``,
default 260 s for the importer, 60 % of it for the broker): when it is spent the run stops and
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
from django.core.servers.basehttp import WSGIServer  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.testcases import LiveServerThread  # noqa: E402
from schemathesis.config import SchemathesisConfig  # noqa: E402
from schemathesis.engine import Status, events, from_schema  # noqa: E402

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db(transaction=True)]

PASSWORD = "fuzz-pass-1"
SEED = int(os.environ.get("CARM_FUZZ_SEED", "20261130"))
EXAMPLES = int(os.environ.get("CARM_FUZZ_EXAMPLES", "20"))
PHASES = os.environ.get("CARM_FUZZ_PHASES", "examples,fuzzing").split(",")
MAX_SECONDS = float(os.environ.get("CARM_FUZZ_MAX_SECONDS", "260"))
CHECKS = ("not_a_server_error", "response_schema_conformance")


class _OneThreadWSGIServer(WSGIServer):
    """Requests one after another in the server's own thread (schemathesis runs one worker)."""

    def __init__(self, *args, connections_override=None, **kwargs):
        super().__init__(*args, **kwargs)


class _OneThreadLiveServer(LiveServerThread):
    server_class = _OneThreadWSGIServer


@pytest.fixture
def fuzz_server(transactional_db, settings):
    """A live server on one thread with one persistent database connection. pytest-django's
    ``live_server`` serves each request on a new thread, so a new PostgreSQL connection (a backend
    forked, the portal's session set-up, cold catalog caches) for each of ~3,000 requests: on a busy
    2-core machine that was most of the run's time. What each request does is unchanged."""
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.db import connections

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]
    database = connections.settings["default"]  # what a new thread's connection is made from
    max_age = database.get("CONN_MAX_AGE", 0)
    database["CONN_MAX_AGE"] = None
    server = _OneThreadLiveServer("localhost", static_handler=StaticFilesHandler)
    server.daemon = True
    try:
        server.start()
        server.is_ready.wait()
        if server.error:
            raise server.error
        yield f"http://localhost:{server.port}"
    finally:
        if server.is_alive():
            server.terminate()  # closes the server thread's connection
        database["CONN_MAX_AGE"] = max_age


@pytest.fixture
def demo_tokens(fuzz_server, settings):
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


PERSONAS = (("importer", 1.0, 1.0), ("broker", 0.5, 0.6))  # (persona, share of the examples, of the budget)


def test_no_server_error_and_every_response_matches_the_schema(fuzz_server, demo_tokens):
    """Both personas on one seeding of the demo data (a transactional test flushes it afterwards)."""
    summaries, problems = [], []
    for persona, share, budget_share in PERSONAS:
        budget = MAX_SECONDS * budget_share
        result = run_schemathesis(fuzz_server, demo_tokens[persona], examples=max(1, int(EXAMPLES * share)),
                                  budget=budget)
        summary = (f"{persona}: {result['operations']} operations, {result['requests']} requests, "
                   f"{sum(result['failures'].values())} failures in {result['seconds']:.0f} s"
                   + (f" (time budget of {budget:.0f} s spent: stopped early)" if result["timed_out"] else ""))
        print(summary)
        summaries.append(summary)
        problems += [f"{persona}: {n} x {name} {label}\n    e.g. {result['samples'][(name, label)]}"
                     for (name, label), n in sorted(result["failures"].items())]
        if result["operations"] < 90:
            problems.append(f"{persona}: only {result['operations']} operations reached")
    assert not problems, "\n".join(summaries + problems)
