"""Load the demo: businesses, users, a delegation, then each app's lived-in history.

Idempotent. Each app may provide ``<app>/demo.py`` with ``seed(ctx)``; they run in order.
"""

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts import demo
from carm_portal.modules import import_optional

APP_SEEDERS = [
    "declarations.demo", "billing.demo", "billing.rpp.demo", "billing.offsetting.demo", "appeals.demo",
]


class Command(BaseCommand):
    help = "Create (or refresh) the demo businesses, users and data. Safe to run again."

    def add_arguments(self, parser):
        parser.add_argument("--password", default="demo-pass", help="Password for every demo login.")

    def handle(self, *args, password: str, **options):
        with transaction.atomic():
            ctx = demo.seed(password)
        for module_name in APP_SEEDERS:
            module = import_optional(module_name)
            if module is None:
                continue
            self.stdout.write(f"Seeding {module_name.split('.')[0]}…")
            module.seed(ctx, stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data ready. Log in at http://127.0.0.1:8000/ with:"))
        for email, what in [
            ("importer@example.com", "BAM of Maple Leaf Outfitters (2 RM accounts)"),
            ("other@example.com", "BAM of Prairie Hardware (an unrelated importer)"),
            ("broker@example.com", "Northern Customs Brokers, delegated by Maple Leaf for RM0001 only"),
            ("admin@example.com", "superuser: /admin/"),
        ]:
            self.stdout.write(f"  {email:<24} / {password:<10}  {what}")
