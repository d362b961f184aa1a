"""The French catalogue as it is in ``locale/fr/LC_MESSAGES/django.po``, compiled for the test.

``french_catalogue`` compiles the .po (Babel) into a temporary locale directory put in front of
``LOCALE_PATHS``, so the French tests read the translations as written even when the committed
.mo is older than the .po."""

from __future__ import annotations

from pathlib import Path

import pytest

FRAGMENT = Path(__file__).resolve().parents[2] / "locale" / "fr" / "LC_MESSAGES" / "django.po"


def install_fragment(settings, directory: Path) -> None:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    target = directory / "locale" / "fr" / "LC_MESSAGES"
    target.mkdir(parents=True, exist_ok=True)
    with FRAGMENT.open("rb") as po, (target / "django.mo").open("wb") as mo:
        write_mo(mo, read_po(po, locale="fr"))
    # Changing LOCALE_PATHS resets Django's translation caches (django.test.signals).
    settings.LOCALE_PATHS = [str(directory / "locale"), *settings.LOCALE_PATHS]


@pytest.fixture
def french_catalogue(settings, tmp_path):
    install_fragment(settings, tmp_path)
