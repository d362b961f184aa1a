"""``manage.py load_exchange_rates FILE [FILE ...]``: Bank of Canada Valet exports (JSON or CSV).

Get a file from https://www.bankofcanada.ca/valet/observations/FXUSDCAD,FXEURCAD/json?start_date=2025-01-01
(or ``/csv``). Idempotent: rerunning with the same file changes nothing.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from declarations import exchange_rates


class Command(BaseCommand):
    help = "Load Bank of Canada exchange rates from Valet exports (JSON or CSV)."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", help="Valet export files (.json or .csv)")

    def handle(self, *args, files, **options):
        for name in files:
            path = Path(name)
            try:
                text = path.read_text(encoding="utf-8-sig")
                result = exchange_rates.load(exchange_rates.parse(text))
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(f"{name}: cannot read: {exc}") from exc
            except exchange_rates.RateFileError as exc:
                raise CommandError(f"{name}: {exc} (nothing loaded)") from exc
            self.stdout.write(
                f"{name}: {result.created} created, {result.updated} updated, {result.unchanged} unchanged "
                f"({', '.join(result.currencies) or 'no currency'})"
            )
