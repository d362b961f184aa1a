"""Read paths for CADs. Every user-facing CAD query starts from ``cads_for`` (the access gate)."""

from __future__ import annotations

from datetime import date

from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from accounts.access import program_accounts_for
from accounts.models import User
from accounts.roles import Scope
from billing.ledger import services as ledger
from billing.ledger.models import LedgerEntry

from . import deadlines
from .models import CAD, CADLine, CADVersion

__all__ = [
    "cads_for",
    "get_cad_for_user_or_404",
    "late_q",
    "due_soon_q",
    "cad_lines",
    "cad_versions",
    "cad_ledger_entries",
    "pending_adjustments",
]


def late_q(today: date) -> Q:
    """Not yet submitted (draft or rejected) and past the accounting due date."""
    return Q(status__in=CAD.OPEN_STATUSES, due_date__lt=today)


def due_soon_q(today: date, business_days: int = 5) -> Q:
    """Not yet submitted and due between today and ``business_days`` business days from now."""
    return Q(status__in=CAD.OPEN_STATUSES, due_date__gte=today,
             due_date__lte=deadlines.due_soon_until(today, business_days))


def cads_for(
    user: User,
    scope: Scope = Scope.DECLARATIONS,
    *,
    program_account=None,
    status: str | list[str] | None = None,
    released_from: date | None = None,
    released_to: date | None = None,
    office: str | None = None,
    late: bool | None = None,
    search: str | None = None,
    cad_type: str | None = None,
    today: date | None = None,
) -> QuerySet[CAD]:
    """The CADs ``user`` may see for ``scope``, filtered. Newest release first.

    ``late=True``: not submitted past the due date, or submitted after it. ``search``: a
    transaction number, whole (exact match) or its beginning.
    """
    today = today or timezone.localdate()
    qs = CAD.objects.filter(program_account__in=program_accounts_for(user, scope)).select_related(
        "program_account", "broker"
    )
    if program_account is not None:
        qs = qs.filter(program_account=program_account)
    if status:
        qs = qs.filter(status__in=[status] if isinstance(status, str) else list(status))
    if released_from is not None:
        qs = qs.filter(release_date__gte=released_from)
    if released_to is not None:
        qs = qs.filter(release_date__lte=released_to)
    if office:
        qs = qs.filter(office_code=office.strip())
    if cad_type:
        qs = qs.filter(cad_type=cad_type)
    if late is True:
        qs = qs.filter(late_q(today) | Q(submitted_late=True))
    elif late is False:
        qs = qs.exclude(late_q(today) | Q(submitted_late=True))
    if search:
        digits = "".join(ch for ch in search if ch.isdigit())
        if not digits:
            return qs.none()
        qs = qs.filter(transaction_number=digits) if len(digits) == 14 else qs.filter(
            transaction_number__startswith=digits
        )
    return qs.order_by("-release_date", "-id")


def get_cad_for_user_or_404(user: User, pk, scope: Scope = Scope.DECLARATIONS) -> CAD:
    """One CAD, or 404 for both "missing" and "not yours"."""
    try:
        return cads_for(user, scope).select_related("program_account__business", "filed_by").get(pk=pk)
    except (CAD.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def cad_lines(cad: CAD) -> QuerySet[CADLine]:
    return cad.lines.select_related("classification", "treatment").order_by("line_no")


def cad_versions(cad: CAD) -> QuerySet[CADVersion]:
    """All versions, oldest first, with who filed them and the ledger entry each posted."""
    return cad.versions.select_related("filed_by", "reviewed_by", "ledger_entry").order_by("number")


def cad_ledger_entries(cad: CAD) -> QuerySet[LedgerEntry]:
    """The CAD's money effects (charge, differences, withdrawal, interest on adjustments), oldest first."""
    version_type = ContentType.objects.get_for_model(CADVersion)
    return (
        LedgerEntry.objects.filter(
            Q(pk__in=ledger.source_entries(cad).values("pk"))
            | Q(source_type=version_type, source_id__in=cad.versions.values("pk"))
        )
        .order_by("created_at", "id")
    )


def pending_adjustments() -> QuerySet[CADVersion]:
    """Adjustments waiting for CBSA review (staff side)."""
    return CADVersion.objects.filter(status=CADVersion.Status.PENDING_REVIEW).select_related(
        "cad__program_account", "filed_by"
    ).order_by("filed_at")
