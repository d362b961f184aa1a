import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]


def _run_manage(*args, **env):
    full_env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=120
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = _run_manage("check", DJANGO_SETTINGS_MODULE="carm_portal.production", ALLOWED_HOSTS="x.example")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_refuses_a_weak_secret_key():
    result = _run_manage(
        "check", DJANGO_SETTINGS_MODULE="carm_portal.production", SECRET_KEY="short", ALLOWED_HOSTS="x.example"
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_check_deploy_is_clean_with_production_settings():
    result = _run_manage(
        "check", "--deploy", "--fail-level", "WARNING",
        DJANGO_SETTINGS_MODULE="carm_portal.production",
        SECRET_KEY="k" * 20 + "-real-secret-for-the-test-" + "z" * 30,
        ALLOWED_HOSTS="portal.example.com",
    )
    assert result.returncode == 0, result.stderr + result.stdout


@pytest.mark.django_db
def test_celery_app_runs_a_task_eagerly_without_a_broker():
    from carm_portal.tasks import heartbeat

    assert heartbeat.delay().get()[:4].isdigit()


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_prints_the_logins(capsys):
    from accounts.models import Business, Delegation, Membership, User

    call_command("seed_demo")
    counts = (User.objects.count(), Business.objects.count(), Membership.objects.count(), Delegation.objects.count())
    call_command("seed_demo", "--password", "other-pass")
    assert counts == (User.objects.count(), Business.objects.count(), Membership.objects.count(),
                      Delegation.objects.count())
    out = capsys.readouterr().out
    for email in ("importer@example.com", "other@example.com", "broker@example.com", "admin@example.com"):
        assert email in out
    assert User.objects.get(email="broker@example.com").check_password("other-pass")
    delegation = Delegation.objects.get(broker__bn9="871234563")
    assert [pa.number for pa in delegation.program_accounts.all()] == ["123456782RM0001"]
