"""Reading CADs through the gate; the readiness items (batch queries)."""

from datetime import date

import pytest
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from accounts.readiness import readiness_for
from declarations import services
from declarations.models import CAD
from declarations.selectors import (
    cad_ledger_entries,
    cad_versions,
    cads_for,
    get_cad_for_user_or_404,
    pending_adjustments,
)
from tests import factories

from .conftest import FILED_ON, accepted_cad, file_cad, header, line

pytestmark = pytest.mark.django_db


def draft(actor, account, release, **extra):
    return services.cad_create_draft(actor=actor, program_account=account, lines=[line()], today=FILED_ON,
                                     **header(release_date=release, direct_shipment_date=release, **extra))


def test_filters(importer, account, tariff, cbsa):
    late = draft(importer.bam, account, date(2025, 10, 20))                      # due 10-27: late
    soon = draft(importer.bam, account, date(2025, 11, 4), office_code="0453")   # due 11-11... 12
    done = accepted_cad(importer.bam, account, cbsa)
    user = importer.bam
    today = FILED_ON
    assert set(cads_for(user, today=today)) == {late, soon, done}
    assert list(cads_for(user, status="draft", today=today).order_by("id")) == [late, soon]
    assert list(cads_for(user, late=True, today=today)) == [late]
    assert set(cads_for(user, late=False, today=today)) == {soon, done}
    assert list(cads_for(user, office="0453")) == [soon]
    assert set(cads_for(user, released_from=date(2025, 11, 1))) == {soon, done}
    assert list(cads_for(user, released_to=date(2025, 10, 31))) == [late]
    assert list(cads_for(user, search=done.transaction_number)) == [done]
    assert list(cads_for(user, search=done.transaction_number[:9])) != []
    assert list(cads_for(user, search="abc")) == []
    assert list(cads_for(user)) == [soon, done, late]  # newest release first
    assert late.is_late(today) and not soon.is_late(today)


def test_gate(importer, other_importer, account, broker, tariff, cbsa):
    cad = accepted_cad(importer.bam, account, cbsa)
    assert get_cad_for_user_or_404(importer.bam, cad.pk) == cad
    with pytest.raises(Http404):
        get_cad_for_user_or_404(other_importer.bam, cad.pk)
    with pytest.raises(Http404):
        get_cad_for_user_or_404(importer.bam, "not-a-number")
    delegation = factories.make_delegation(importer, broker, cad_submit=False, adjust=False)
    assert not cads_for(broker.bam).exists()
    with pytest.raises(Http404):
        get_cad_for_user_or_404(broker.bam, cad.pk)
    delegation.scope_adjust = True
    delegation.save()
    assert get_cad_for_user_or_404(broker.bam, cad.pk) == cad
    delegation.status = "revoked"
    delegation.save()
    with pytest.raises(Http404):
        get_cad_for_user_or_404(broker.bam, cad.pk)


def test_versions_and_ledger_entries(importer, account, tariff, cbsa):
    cad = accepted_cad(importer.bam, account, cbsa)
    services.cad_amend(actor=importer.bam, cad=cad, lines=[line(treatment="UST", origin_country="US", proof_of_origin=True)],
                       reason_codes=["R2-74-1-C11"], today=date(2025, 12, 5))
    assert [v.kind for v in cad_versions(cad)] == ["original", "adjustment"]
    assert list(pending_adjustments()) == [cad.versions.get(number=2)]
    assert [e.kind for e in cad_ledger_entries(cad)] == ["cad_charge"]


def test_readiness_items_in_constant_queries(importer, other_importer, tariff):
    first, second = importer.program_accounts.order_by("number")
    draft(importer.bam, first, date(2025, 10, 20))   # late
    draft(importer.bam, first, date(2025, 11, 4))    # due soon
    draft(importer.bam, second, date(2025, 11, 5))   # due soon
    accounts = list(importer.program_accounts.select_related("business")) + list(
        other_importer.program_accounts.select_related("business"))
    # Every app's checks together: the same number of queries for 1 account as for 3.
    with CaptureQueriesContext(connection) as one:
        readiness_for(accounts[:1], today=FILED_ON)
    with CaptureQueriesContext(connection) as many:
        results = readiness_for(accounts, today=FILED_ON)
    assert len(many) == len(one)
    items = {(r.program_account.number, i.key): i for r in results for i in r.items}
    assert items[(first.number, "late_cads")].ok is False
    assert "1 CAD" in str(items[(first.number, "late_cads")].detail)
    assert items[(first.number, "cads_due_soon")].ok is False and items[(first.number, "cads_due_soon")].counts is False
    assert items[(second.number, "late_cads")].ok is True
    assert items[(second.number, "cads_due_soon")].ok is False
    other = other_importer.program_accounts.get().number
    assert items[(other, "late_cads")].ok and items[(other, "cads_due_soon")].ok


def test_submitted_late_shows_in_the_late_filter(importer, account, tariff):
    cad = file_cad(importer.bam, account, today=date(2025, 11, 12))
    assert list(cads_for(importer.bam, late=True, today=date(2025, 11, 12))) == [cad]
    assert cad.status == CAD.Status.SUBMITTED
