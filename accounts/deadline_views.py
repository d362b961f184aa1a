"""The deadline centre page, its dashboard card, email preferences and the per-user ICS feed."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from . import deadlines
from .audit import record
from .models import CalendarFeed, NotificationPreference, User
from .notifications import preferences_for

CARD_ROWS = 5
CARD_DAYS = 30


class FilterForm(forms.Form):
    account = forms.TypedChoiceField(label=gettext_lazy("RM account"), required=False, coerce=int, empty_value=None)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), required=False)

    def __init__(self, data, *, accounts):
        super().__init__(data)
        self.fields["account"].choices = [("", _("All RM accounts"))] + [
            (pa.pk, f"{pa.number} · {pa.business.display_name}") for pa in accounts
        ]
        self.fields["kind"].choices = [("", _("All kinds"))] + [(k.key, k.label) for k in deadlines.kinds()]


class PreferenceForm(forms.ModelForm):
    class Meta:
        model = NotificationPreference
        fields = ["statement_issued", "due_soon", "overdue", "cad_late", "delegation_requested",
                  "delegation_approved", "delegation_expiring", "appeal_decided"]


def _display(rows, today: date) -> list[tuple]:
    """(row, kind label, days left, days late) for the templates."""
    labels = {k.key: k.label for k in deadlines.kinds()}
    return [(row, labels.get(row.kind, row.kind), row.days_left(today), max(0, -row.days_left(today)))
            for row in rows]


def _feed_of(user: User) -> CalendarFeed | None:
    return CalendarFeed.objects.filter(user=user, revoked_at__isnull=True).first()


@login_required
@require_GET
def deadline_centre(request):
    today = timezone.localdate()
    accounts = list(deadlines.visible_accounts(request.user))
    form = FilterForm(request.GET or None, accounts=accounts)
    chosen, kind = accounts, None
    if form.is_bound and form.is_valid():
        if form.cleaned_data["account"]:
            chosen = [pa for pa in accounts if pa.pk == form.cleaned_data["account"]]
        kind = form.cleaned_data["kind"] or None
    rows = deadlines.deadlines_for(request.user, today=today, accounts=chosen,
                                   kinds_wanted=[kind] if kind else None) if not form.errors else []
    feed = _feed_of(request.user)
    return render(request, "accounts/deadlines.html", {
        "form": form, "rows": _display(rows, today),
        "today": today, "window_end": today + timedelta(days=deadlines.DEFAULT_WINDOW_DAYS),
        "feed_url": request.build_absolute_uri(reverse("deadline-feed", args=[feed.token])) if feed else "",
        "preference_form": PreferenceForm(instance=preferences_for(request.user)),
    })


@login_required
@require_POST
def feed_token(request):
    """Create or regenerate (``action=regenerate``) or revoke (``action=revoke``) the user's feed URL."""
    action = request.POST.get("action")
    if action not in ("regenerate", "revoke"):
        messages.error(request, _("Unknown action."))
        return redirect("deadlines")
    with transaction.atomic():
        CalendarFeed.objects.filter(user=request.user, revoked_at__isnull=True).update(revoked_at=timezone.now())
        if action == "regenerate":
            CalendarFeed.objects.create(user=request.user, token=secrets.token_urlsafe(32))
    record(f"accounts.calendar_feed.{action}", actor=request.user, target=request.user)
    messages.success(request, _("A new calendar address was made; the old one no longer works.")
                     if action == "regenerate" else _("The calendar address was revoked."))
    return redirect("deadlines")


@login_required
@require_POST
def preferences(request):
    form = PreferenceForm(request.POST, instance=preferences_for(request.user))
    if form.is_valid():
        pref = form.save(commit=False)
        pref.user = request.user
        pref.save()
        messages.success(request, _("Email preferences saved."))
    else:
        messages.error(request, _("The preferences could not be saved."))
    return redirect("deadlines")


def dashboard_card(request, business, accounts):
    """Dashboard panel: the next dates of the importer the user acts for."""
    today = timezone.localdate()
    rows = deadlines.deadlines_for(request.user, today=today, accounts=accounts, days=CARD_DAYS)
    return {"rows": _display(rows[:CARD_ROWS], today),
            "more": max(0, len(rows) - CARD_ROWS), "days": CARD_DAYS}


# --- ICS (RFC 5545, written by hand: no calendar library in the allowed ecosystem) -------------

def _escape(text: str) -> str:
    """TEXT value escaping (RFC 5545 §3.3.11)."""
    return (str(text).replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


def _fold(line: str) -> str:
    """Fold a content line at 75 octets (§3.1), never inside a UTF-8 character."""
    out, current, size = [], "", 0
    for ch in line:
        n = len(ch.encode("utf-8"))
        limit = 75 if not out else 74  # continuation lines start with one space
        if size + n > limit:
            out.append(current)
            current, size = "", 0
        current += ch
        size += n
    out.append(current)
    return "\r\n ".join(out)


def ics_calendar(rows, *, name: str, now: datetime, host: str, base_url: str = "") -> str:
    """``host`` makes the UIDs unique; ``base_url`` (scheme and host) makes each row's link absolute."""
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//CARM Portal//Deadline centre//EN", "CALSCALE:GREGORIAN",
             "METHOD:PUBLISH", f"X-WR-CALNAME:{_escape(name)}"]
    for row in rows:
        summary = row.title if not row.account_number else f"{row.title} ({row.account_number})"
        lines += [
            "BEGIN:VEVENT",
            f"UID:{row.kind}-{row.ref}-{row.date:%Y%m%d}@{host}",
            f"DTSTAMP:{stamp}",
            f"DTSTART;VALUE=DATE:{row.date:%Y%m%d}",
            f"DTEND;VALUE=DATE:{row.date + timedelta(days=1):%Y%m%d}",
            f"SUMMARY:{_escape(summary)}",
            f"DESCRIPTION:{_escape(row.business_name)}",
            f"URL:{base_url}{row.url}" if row.url.startswith("/") else f"URL:{row.url}",
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(_fold(line) + "\r\n" for line in lines)


@require_GET
def feed(request, token: str):
    """The user's deadlines as an ICS calendar: no login (calendar apps cannot), the secret token
    is the key; a revoked or unknown token answers 404. The gate runs as the token's user, now."""
    item = CalendarFeed.objects.filter(token=token, revoked_at__isnull=True).select_related("user").first()
    if item is None or not item.user.is_active:
        raise Http404
    user = item.user
    today: date = timezone.localdate()
    with translation.override(user.preferred_language or "en"):
        rows = deadlines.deadlines_for(user, today=today)
        body = ics_calendar(rows, name=_("CARM deadlines"), now=timezone.now(), host=request.get_host(),
                            base_url=request.build_absolute_uri("/").rstrip("/"))
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="carm-deadlines.ics"'
    response["Cache-Control"] = "private, max-age=900"
    return response
