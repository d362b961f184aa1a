"""Settings for the test pdf worker: the project's, plus the import that registers the PDF tasks.

Celery autodiscovers only ``<app>.tasks``; ``billing.pdf_tasks`` must be listed in
``CELERY_IMPORTS`` (the lead adds it to carm_portal/settings.py; until then this module does).
"""

from carm_portal.settings import *  # noqa: F403

CELERY_IMPORTS = [*globals().get("CELERY_IMPORTS", []), "billing.pdf_tasks"]  # noqa: F405
