"""Security notices in the reader's language, rendered when they are shown.

A ``Notice`` stores the subject and body it was emailed with (in the sender's language: the daily
Celery job runs in English) and, since rpp 0005, ``params``: the sender's values (amounts as
strings, dates ISO). A page renders the text again from its kind and params through the same
functions the sender used (``render``), so a French reader reads French with French amounts, and
the text is exactly what was sent, the cash equivalent of a shortfall included.

Notices sent before params existed are rebuilt from their kind, their rows (bond, requirement)
and their key; what cannot be rebuilt (a row since deleted, an unknown kind) falls back to the
stored text. The free-text reason of a suspension is a person's words and is shown as given.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_UP, Decimal, InvalidOperation

from django.utils.translation import gettext as _

from carm_portal.money import CENT, ZERO, format_cad

from .models import Bond, Notice, SecurityRequirement


@dataclass(frozen=True)
class NoticeText:
    subject: str
    body: str


# --- From the sender's values (what senders store in ``Notice.params``) -------------------------

def _m(value) -> str:
    return format_cad(Decimal(str(value)))


def _shortfall_from(p: dict) -> NoticeText:
    values = {"rm": p["rm"], "bond": _m(p["shortfall"]), "cash": _m(p["cash"]), "due": p["due"],
              "required": _m(p["required"])}
    if p.get("suspends"):
        body = _("The annual review raised the bond / eWSA required for %(rm)s to %(required)s: post a bond / "
                 "eWSA for %(bond)s more, or a cash deposit of %(cash)s, by %(due)s. Otherwise RPP is "
                 "suspended.") % values
    else:
        body = _("The posted security for %(rm)s does not cover the binding requirement of %(required)s: post "
                 "a bond / eWSA for %(bond)s more, or a cash deposit of %(cash)s.") % values
    subject = _("RPP security shortfall of %(amount)s on %(rm)s") % {"amount": values["bond"], "rm": p["rm"]}
    return NoticeText(subject, body)


def _bond_expiry_from(p: dict) -> NoticeText:
    subject = _("Bond %(number)s expires in %(days)d days") % {"number": p["number"], "days": int(p["days"])}
    body = _("The %(kind)s %(number)s from %(surety)s (%(amount)s) expires on %(date)s. Renew it or post "
             "other security before then, or the RM accounts it covers will fall short.") % {
        "kind": Bond.Kind(p["kind"]).label, "number": p["number"], "surety": p["surety"],
        "amount": _m(p["amount"]), "date": p["date"]}
    return NoticeText(subject, body)


def _requirement_changed_from(p: dict) -> NoticeText:
    values = {"rm": p["rm"], "old": _m(p["old"]), "new": _m(p["new"]), "cash": _m(p["cash"]), "due": p["due"],
              "review": p["review"]}
    if p.get("increase"):
        body = _("The annual review of %(review)s raised the bond / eWSA required for %(rm)s from %(old)s to %(new)s "
                 "(cash deposit: %(cash)s). Post the increase by %(due)s, or RPP is suspended.") % values
    else:
        body = _("The annual review of %(review)s lowered the bond / eWSA required for %(rm)s from %(old)s to "
                 "%(new)s (cash deposit: %(cash)s).") % values
    subject = _("Annual review: RPP security for %(rm)s is now %(amount)s") % {"rm": p["rm"], "amount": values["new"]}
    return NoticeText(subject, body)


def _suspended_from(p: dict) -> NoticeText:
    subject = _("RPP suspended for %(rm)s") % {"rm": p["rm"]}
    body = _("Release Prior to Payment is suspended for %(rm)s: %(reason)s") % {"rm": p["rm"], "reason": p["reason"]}
    return NoticeText(subject, body)


def _forecast_gap_from(p: dict) -> NoticeText:
    values = {"rm": p["rm"], "review": p["review"], "bond": _m(p["bond"]), "gap": _m(p["gap"]), "ask": p["ask"],
              "due": p["due"]}
    subject = _("Security forecast for %(rm)s: %(gap)s more bond needed") % values
    body = _("If the annual review of %(review)s ran on the months so far and the same months last year, the "
             "bond / eWSA for %(rm)s would be %(bond)s: %(gap)s more than posted. The increase would be due "
             "%(due)s; ask your surety by %(ask)s.") % values
    return NoticeText(subject, body)


_FROM_PARAMS = {
    Notice.Kind.SHORTFALL: _shortfall_from,
    Notice.Kind.BOND_EXPIRY: _bond_expiry_from,
    Notice.Kind.REQUIREMENT_CHANGED: _requirement_changed_from,
    Notice.Kind.SUSPENDED: _suspended_from,
    Notice.Kind.FORECAST_GAP: _forecast_gap_from,
}


def render(kind: str, params: dict) -> NoticeText:
    """A notice's subject and body from its kind and the sender's values, in the active language
    (senders call it to write the email; pages call it to show the notice)."""
    return _FROM_PARAMS[kind](params)


def requirement_changed_params(req: SecurityRequirement) -> dict:
    return {"rm": req.program_account.number, "old": str(req.previous_bond_amount or ZERO),
            "new": str(req.bond_amount), "cash": str(req.cash_amount), "due": req.due_date.isoformat(),
            "review": req.as_of.isoformat(), "increase": bool(req.is_increase)}


# --- Rebuilt from rows, for notices sent before params (rpp 0005) ----------------------------------


def _key_parts(notice: Notice) -> list[str]:
    return (notice.key or "").split(":")


def _requirement_pk(notice: Notice) -> int | None:
    parts = _key_parts(notice)
    if notice.kind in (Notice.Kind.SHORTFALL, Notice.Kind.REQUIREMENT_CHANGED) and len(parts) >= 2:
        try:
            return int(parts[1])
        except ValueError:
            return None
    return None


def _requirements(notices) -> dict[int, SecurityRequirement]:
    """The requirements the notices' keys name, in one query."""
    pks = {pk for n in notices if not n.params and (pk := _requirement_pk(n)) is not None}
    if not pks:
        return {}
    return {r.pk: r for r in SecurityRequirement.objects.select_related("program_account").filter(pk__in=pks)}


def _shortfall(notice: Notice, reqs: dict) -> NoticeText | None:
    from .services import suspends_when_short

    parts = _key_parts(notice)
    if len(parts) < 3:
        return None
    req = reqs.get(_requirement_pk(notice))
    try:
        shortfall = Decimal(parts[2])
    except InvalidOperation:
        return None
    if req is None:
        return None
    cash = ZERO
    if req.bond_amount:
        cash = (shortfall * req.cash_amount / req.bond_amount).quantize(CENT, rounding=ROUND_UP)
    rm = req.program_account.number
    values = {"rm": rm, "bond": format_cad(shortfall), "cash": format_cad(cash),
              "due": req.due_date.isoformat(), "required": format_cad(req.bond_amount)}
    if suspends_when_short(req):
        body = _("The annual review raised the bond / eWSA required for %(rm)s to %(required)s: post a bond / "
                 "eWSA for %(bond)s more, or a cash deposit of %(cash)s, by %(due)s. Otherwise RPP is "
                 "suspended.") % values
    else:
        body = _("The posted security for %(rm)s does not cover the binding requirement of %(required)s: post "
                 "a bond / eWSA for %(bond)s more, or a cash deposit of %(cash)s.") % values
    subject = _("RPP security shortfall of %(amount)s on %(rm)s") % {"amount": format_cad(shortfall), "rm": rm}
    return NoticeText(subject, body)


def _bond_expiry(notice: Notice, reqs: dict) -> NoticeText | None:
    bond = notice.bond
    if bond is None:
        return None
    from django.utils import timezone

    sent_on = timezone.localdate(notice.created_at)
    days_left = (bond.expiry_date - sent_on).days
    subject = _("Bond %(number)s expires in %(days)d days") % {"number": bond.bond_number, "days": days_left}
    body = _("The %(kind)s %(number)s from %(surety)s (%(amount)s) expires on %(date)s. Renew it or post "
             "other security before then, or the RM accounts it covers will fall short.") % {
        "kind": bond.get_kind_display(), "number": bond.bond_number, "surety": bond.surety_name,
        "amount": format_cad(bond.amount), "date": bond.expiry_date.isoformat()}
    return NoticeText(subject, body)


def requirement_changed_text(req: SecurityRequirement) -> NoticeText:
    """The annual-review notice of a requirement, in the active language (sent and shown alike)."""
    return render(Notice.Kind.REQUIREMENT_CHANGED, requirement_changed_params(req))


def _requirement_changed(notice: Notice, reqs: dict) -> NoticeText | None:
    req = reqs.get(_requirement_pk(notice))
    return None if req is None else requirement_changed_text(req)


def _suspended(notice: Notice, reqs: dict) -> NoticeText | None:
    pa = notice.program_account
    if pa is None:
        return None
    subject = _("RPP suspended for %(rm)s") % {"rm": pa.number}
    # The reason is the sender's sentence (with its amounts) and cannot be rebuilt: keep the body.
    return NoticeText(subject, notice.body)


_RENDERERS = {
    Notice.Kind.SHORTFALL: _shortfall,
    Notice.Kind.BOND_EXPIRY: _bond_expiry,
    Notice.Kind.REQUIREMENT_CHANGED: _requirement_changed,
    Notice.Kind.SUSPENDED: _suspended,
}


def notice_text(notice: Notice, requirements: dict | None = None) -> NoticeText:
    """The notice's subject and body in the active language: from its params, else rebuilt from its
    rows, else the stored text."""
    if notice.params and notice.kind in _FROM_PARAMS:
        try:
            return render(notice.kind, notice.params)
        except (KeyError, TypeError, ValueError, InvalidOperation):  # params that do not fit: rebuild
            pass
    renderer = _RENDERERS.get(notice.kind)
    reqs = requirements if requirements is not None else _requirements([notice])
    rendered = renderer(notice, reqs) if renderer else None
    return rendered or NoticeText(notice.subject, notice.body)


def with_text(notices):
    """Set ``.text`` (a ``NoticeText``) on each notice for the templates (one query for all of
    their requirements; select_related the bond and program account first); returns the list."""
    notices = list(notices)
    reqs = _requirements(notices)
    for n in notices:
        n.text = notice_text(n, reqs)
    return notices
