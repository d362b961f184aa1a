"""Run a data migration's function in a test with the models as that migration saw them."""

from __future__ import annotations

import importlib
from functools import cache

from django.db import connection
from django.db.migrations.loader import MigrationLoader


@cache
def historical_apps(app_label: str, migration_name: str):
    """The app registry right after ``app_label.migration_name`` (models that moved since included)."""
    return MigrationLoader(connection).project_state((app_label, migration_name)).apps


def run_migration_function(app_label: str, migration_name: str, function: str) -> None:
    module = importlib.import_module(f"{_package(app_label)}.migrations.{migration_name}")
    getattr(module, function)(historical_apps(app_label, migration_name), None)


def _package(app_label: str) -> str:
    from django.apps import apps

    return apps.get_app_config(app_label).name
