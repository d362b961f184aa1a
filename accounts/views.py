"""Browser pages for accounts: dashboard, business profile, users, delegations, audit trail.

Views are thin: they find objects through the access gate (anything outside answers 404),
parse a form, call one service from ``accounts.services`` and render. A service's
ApplicationError becomes form errors, so the user sees what to fix and loses nothing.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from carm_portal.exceptions import ApplicationError

from . import audit_text, services
from .access import (
    active_memberships,
    businesses_for,
    can_manage_account,
    managed_businesses,
    program_accounts_for,
)
from .acting import get_acting_for, set_acting_for
from .dashboard import render_panels
from .forms import (
    BusinessProfileForm,
    BusinessRegisterForm,
    ClientGroupForm,
    DelegationEditForm,
    DelegationGrantForm,
    DelegationRequestForm,
    MembershipRequestForm,
    MembershipRoleForm,
    add_service_errors,
)
from .models import AuditEvent, Business, ClientGroup, Delegation, Membership, ProgramAccount, User
from .readiness import readiness_for
from .roles import Right, Role, Scope

AUDIT_PAGE_SIZE = 25


# --- Shared helpers ---------------------------------------------------------------------------

def _render(request, template: str, context: dict | None = None, *, status: int | None = None):
    return render(request, template, context or {}, status=status)


def _broker_firms(user: User) -> QuerySet[Business]:
    """Broker firms where the user is an active employee (any role)."""
    return Business.objects.filter(
        kind=Business.Kind.BROKER, id__in=active_memberships(user).values("business_id")
    )


def _bam_businesses(user: User) -> QuerySet[Business]:
    """Businesses the user manages business-wide (BAM): profile, audit trail, broker requests and groups.

    A PAM also holds the management rights, but only on its own RM account (see the services).
    """
    return Business.objects.filter(id__in=active_memberships(user).filter(role=Role.BAM).values("business_id"))


def _managed_target(request, managed: QuerySet[Business]) -> Business | None:
    """The business whose users / audit trail a manager works on, among ``managed``.

    ``?business=<id>`` picks one of them (anything else: 404); otherwise the acting-for
    importer if it is one of them, else the user's broker firm.
    """
    chosen = request.GET.get("business")
    if chosen:
        try:
            return managed.get(pk=chosen)
        except (Business.DoesNotExist, ValueError, TypeError):
            raise Http404 from None
    acting = get_acting_for(request)
    if acting is not None and managed.filter(pk=acting.pk).exists():
        return acting
    return managed.filter(kind=Business.Kind.BROKER).first() or managed.first()


def _with_business(url_name: str, business: Business) -> str:
    return f"{reverse(url_name)}?business={business.pk}"


def _safe_next(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                       require_https=request.is_secure()):
        return target
    return default


# --- Dashboard --------------------------------------------------------------------------------

CLIENT_SORTS = {
    "score": lambda row: (row.score, row.program_account.business.display_name.lower()),
    "missing": lambda row: (len(row.missing), row.program_account.business.display_name.lower()),
    "client": lambda row: (row.program_account.business.display_name.lower(), row.program_account.number),
}


def _overall_score(rows) -> int | None:
    counted = [item for row in rows for item in row.counted]
    if not counted:
        return None
    return round(100 * sum(item.ok for item in counted) / len(counted))


@login_required
def dashboard(request):
    user = request.user
    acting = get_acting_for(request)
    context: dict = {"acting": acting}
    if acting is not None:
        accounts = (program_accounts_for(user, Scope.ACCOUNT).filter(business=acting)
                    .select_related("business").order_by("number"))
        cards = readiness_for(accounts)
        context.update(cards=cards, overall_score=_overall_score(cards),
                       panels=render_panels(request, acting, accounts))

    is_broker = _broker_firms(user).exists()
    context["is_broker"] = is_broker
    if is_broker:
        # Every client RM account the user reaches through its firm's delegations.
        client_accounts = (
            program_accounts_for(user, Scope.ACCOUNT)
            .exclude(business_id__in=active_memberships(user).values("business_id"))
            .select_related("business")
        )
        rows = readiness_for(client_accounts)
        sort = request.GET.get("sort", "score")
        key = sort.lstrip("-")
        if key not in CLIENT_SORTS:
            sort, key = "score", "score"
        rows.sort(key=CLIENT_SORTS[key], reverse=sort.startswith("-"))
        context.update(client_rows=rows, sort=sort, client_count=len({r.program_account.business_id for r in rows}))
    if acting is None and not is_broker:
        context["pending_requests"] = list(
            Membership.objects.filter(user=user, status=Membership.Status.PENDING).select_related("business")
        )
    return _render(request, "accounts/dashboard.html", context)


# --- Account switcher ---------------------------------------------------------------------------

@login_required
def switch_account(request):
    """POST business=<id>: act for that importer. GET: a page listing the choices."""
    if request.method != "POST":
        return _render(request, "accounts/switch_account.html", {"next": _safe_next(request, "")})
    try:
        business = businesses_for(request.user).get(pk=request.POST.get("business"))
    except (Business.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
    set_acting_for(request, business)
    messages.success(request, _("You are now acting for %(name)s.") % {"name": business.display_name})
    return HttpResponseRedirect(_safe_next(request, reverse("dashboard")))


# --- Business profile ---------------------------------------------------------------------------

@login_required
def business(request):
    acting = get_acting_for(request)
    if acting is None:
        return _render(request, "accounts/business.html", {
            "business": None, "has_membership": active_memberships(request.user).exists(),
            "is_broker": _broker_firms(request.user).exists(),
        })
    can_manage = _bam_businesses(request.user).filter(pk=acting.pk).exists()
    accounts = program_accounts_for(request.user, Scope.ACCOUNT).filter(business=acting).order_by("number")
    return _render(request, "accounts/business.html", {
        "business": acting, "accounts": accounts, "can_manage": can_manage,
    })


@login_required
def business_edit(request):
    acting = get_acting_for(request)
    if acting is None:
        raise Http404
    target = get_object_or_404(_bam_businesses(request.user), pk=acting.pk)
    form = BusinessProfileForm(request.POST or None, business=target)
    if request.method == "POST" and form.is_valid():
        try:
            services.business_update(actor=request.user, business=target, **form.cleaned_data)
        except ApplicationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("The business profile was saved."))
            return redirect("business")
    return _render(request, "accounts/business_edit.html", {"form": form, "business": acting})


@login_required
def business_register(request):
    if active_memberships(request.user).exists():
        messages.info(request, _("You already belong to a business. Ask its Business Account Manager "
                                 "to register another one, or join it with its Business Number."))
        return redirect("dashboard")
    form = BusinessRegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            registered = services.business_register(actor=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            add_service_errors(form, exc, form.service_field_map)
        else:
            if registered.kind == Business.Kind.IMPORTER:
                set_acting_for(request, registered)
            messages.success(request, _("%(name)s is registered. You are its Business Account Manager.")
                             % {"name": registered.display_name})
            return redirect("dashboard")
    return _render(request, "accounts/business_register.html", {"form": form})


@login_required
def membership_request(request):
    form = MembershipRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            membership = services.membership_request(actor=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Your request to join %(name)s was sent to its Business Account "
                                        "Manager.") % {"name": membership.business.display_name})
            return redirect("dashboard")
    return _render(request, "accounts/membership_request.html", {"form": form})


# --- Users and roles ----------------------------------------------------------------------------

def _managed_memberships(user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(business__in=managed_businesses(user, Right.MANAGE_USERS)).select_related(
        "business", "user", "program_account"
    )


@login_required
def users(request):
    business = _managed_target(request, managed_businesses(request.user, Right.MANAGE_USERS))
    can_manage = business is not None
    if business is None:
        # Read-only: the user's own business (the acting-for importer, or the broker firm).
        acting = get_acting_for(request)
        own = active_memberships(request.user)
        if acting is not None and own.filter(business=acting).exists():
            business = acting
        else:
            business = _broker_firms(request.user).first()
        if business is None:
            raise Http404
    memberships = list(Membership.objects.filter(business=business).select_related("user", "program_account")
                       .order_by("user__email"))
    is_bam = can_manage and _bam_businesses(request.user).filter(pk=business.pk).exists()
    if can_manage:
        # A BAM manages everyone; a PAM only the people bound to its own RM account (as the services check).
        pam_accounts = set(active_memberships(request.user).filter(business=business, role=Role.PAM)
                           .values_list("program_account_id", flat=True))
        for m in memberships:
            m.can_manage = is_bam or (m.program_account_id is not None and m.program_account_id in pam_accounts)
    active = [m for m in memberships if m.status == Membership.Status.ACTIVE]
    pending = [m for m in memberships if m.status == Membership.Status.PENDING] if can_manage else []
    others = list(managed_businesses(request.user, Right.MANAGE_USERS).exclude(pk=business.pk)) if can_manage else []
    return _render(request, "accounts/users.html", {
        "business": business, "can_manage": can_manage, "active": active, "pending": pending,
        "other_businesses": others, "bam_count": sum(m.role == Role.BAM for m in active), "is_bam": is_bam,
    })


@login_required
@require_POST
def membership_decide(request, pk):
    membership = get_object_or_404(_managed_memberships(request.user), pk=pk)
    approve = request.POST.get("decision") == "approve"
    try:
        services.membership_decide(actor=request.user, membership=membership, approve=approve)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        text = _("%(email)s now has access.") if approve else _("The request from %(email)s was rejected.")
        messages.success(request, text % {"email": membership.user.email})
    return redirect(_with_business("users", membership.business))


def _manageable_membership_or_404(user: User, pk) -> Membership:
    """An active membership the user may change: any in a business it is BAM of; as a PAM, those on its RM."""
    membership = get_object_or_404(_managed_memberships(user).filter(status=Membership.Status.ACTIVE), pk=pk)
    if _bam_businesses(user).filter(pk=membership.business_id).exists():
        return membership
    if membership.program_account_id and can_manage_account(user, Right.MANAGE_USERS, membership.program_account):
        return membership
    raise Http404


@login_required
def membership_edit(request, pk):
    membership = _manageable_membership_or_404(request.user, pk)
    business = membership.business
    is_bam = _bam_businesses(request.user).filter(pk=business.pk).exists()
    accounts = business.program_accounts.order_by("number")
    if not is_bam:
        # A PAM keeps people on its own RM account and cannot make anyone a BAM.
        accounts = accounts.filter(pk__in=active_memberships(request.user).filter(
            business=business, role=Role.PAM).values("program_account_id"))
    form = MembershipRoleForm(
        request.POST or None, accounts=accounts, allow_bam=is_bam,
        initial={"role": membership.role, "program_account": membership.program_account_id},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.membership_change_role(actor=request.user, membership=membership, **form.cleaned_data)
        except ApplicationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("The role of %(email)s was changed.") % {"email": membership.user.email})
            return redirect(_with_business("users", membership.business))
    return _render(request, "accounts/membership_edit.html", {"form": form, "membership": membership})


@login_required
def membership_remove(request, pk):
    membership = _manageable_membership_or_404(request.user, pk)
    if request.method == "POST":
        try:
            services.membership_remove(actor=request.user, membership=membership)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("%(email)s no longer has access.") % {"email": membership.user.email})
        return redirect(_with_business("users", membership.business))
    return _render(request, "accounts/membership_remove.html", {"membership": membership})


# --- Delegations --------------------------------------------------------------------------------

def _importer_rights(user: User, importer: Business) -> tuple[bool, set[int]]:
    """(is the importer's BAM, ids of the RM accounts the user is PAM of) — what it may grant."""
    own = active_memberships(user).filter(business=importer)
    is_bam = own.filter(role=Role.BAM).exists()
    pam_accounts = set(own.filter(role=Role.PAM).values_list("program_account_id", flat=True))
    return is_bam, pam_accounts


def _importer_side(request) -> Business | None:
    """The acting-for importer if the user is one of its own employees (not through a broker)."""
    acting = get_acting_for(request)
    if acting is not None and active_memberships(request.user).filter(business=acting).exists():
        return acting
    return None


def _decidable(delegation: Delegation, is_bam: bool, pam_accounts: set[int]) -> bool:
    # Mirrors services.can_decide_delegation without one query per row; the service re-checks.
    if is_bam:
        return True
    accounts = [pa.pk for pa in delegation.program_accounts.all()]
    return (delegation.coverage == Delegation.Coverage.PROGRAM and bool(accounts)
            and set(accounts) <= pam_accounts)


@login_required
def delegations(request):
    user = request.user
    importer = _importer_side(request)
    firms = list(_broker_firms(user))
    if importer is None and not firms:
        raise Http404
    context: dict = {"importer": importer, "today": timezone.localdate()}
    if importer is not None:
        is_bam, pam_accounts = _importer_rights(user, importer)
        rows = list(Delegation.objects.filter(importer=importer).select_related("broker")
                    .prefetch_related("program_accounts"))
        for d in rows:
            d.can_decide = _decidable(d, is_bam, pam_accounts)
        context.update(
            importer_pending=[d for d in rows if d.status == Delegation.Status.REQUESTED],
            importer_delegations=[d for d in rows if d.status != Delegation.Status.REQUESTED],
            can_grant=is_bam or bool(pam_accounts),
        )
    if firms:
        bam_firms = set(_bam_businesses(user).values_list("id", flat=True))
        revoke_firms = set(managed_businesses(user, Right.GRANT_DELEGATIONS).values_list("id", flat=True))
        held = (Delegation.objects.filter(broker__in=firms).select_related("importer", "broker")
                .prefetch_related("program_accounts"))
        groups = ClientGroup.objects.filter(broker__in=firms).prefetch_related("clients", "members")
        context["firms"] = [
            {
                "firm": firm,
                "can_request": firm.pk in bam_firms,
                "can_revoke": firm.pk in revoke_firms,
                "can_manage_groups": firm.pk in bam_firms,
                "delegations": [d for d in held if d.broker_id == firm.pk],
                "groups": [g for g in groups if g.broker_id == firm.pk],
            }
            for firm in firms
        ]
    return _render(request, "accounts/delegations.html", context)


@login_required
def delegation_grant(request):
    importer = _importer_side(request)
    if importer is None:
        raise Http404
    is_bam, pam_accounts = _importer_rights(request.user, importer)
    if not (is_bam or pam_accounts):
        raise Http404
    accounts = importer.program_accounts.order_by("number")
    if not is_bam:
        accounts = accounts.filter(pk__in=pam_accounts)
    form = DelegationGrantForm(request.POST or None, accounts=accounts, business_coverage_allowed=is_bam)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            delegation = services.delegation_grant(
                actor=request.user, importer=importer, broker_bn9=data["broker_bn9"],
                coverage=data["coverage"], program_accounts=list(data["program_accounts"]),
                scopes=form.scope_dict(), valid_from=data["valid_from"], valid_to=data["valid_to"],
                note=data["note"],
            )
        except ApplicationError as exc:
            add_service_errors(form, exc, form.service_field_map)
        else:
            messages.success(request, _("%(broker)s may now act for %(importer)s.")
                             % {"broker": delegation.broker.display_name, "importer": importer.display_name})
            return redirect("delegations")
    return _render(request, "accounts/delegation_form.html", {
        "form": form, "mode": "grant", "business": importer,
    })


def _requesting_firm(request) -> Business:
    firms = _bam_businesses(request.user).filter(kind=Business.Kind.BROKER)
    chosen = request.GET.get("firm")
    firm = firms.filter(pk=chosen).first() if chosen and chosen.isdigit() else firms.first()
    if firm is None:
        raise Http404
    return firm


@login_required
def delegation_request(request):
    firm = _requesting_firm(request)
    form = DelegationRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            delegation = services.delegation_request(
                actor=request.user, broker=firm, importer_bn9=data["importer_bn9"],
                coverage=data["coverage"], program_account_numbers=data["program_account_numbers"],
                scopes=form.scope_dict(), valid_from=data["valid_from"], valid_to=data["valid_to"],
                note=data["note"],
            )
        except ApplicationError as exc:
            add_service_errors(form, exc, form.service_field_map)
        else:
            messages.success(request, _("Your request was sent to %(importer)s.")
                             % {"importer": delegation.importer.display_name})
            return redirect("delegations")
    return _render(request, "accounts/delegation_form.html", {"form": form, "mode": "request", "business": firm})


def _reachable_delegations(user: User) -> QuerySet[Delegation]:
    """Delegations of the user's own importers, and of the broker firms it manages."""
    return Delegation.objects.filter(
        Q(importer_id__in=active_memberships(user).values("business_id"))
        | Q(broker__in=managed_businesses(user, Right.GRANT_DELEGATIONS))
    ).select_related("importer", "broker")


@login_required
@require_POST
def delegation_decide(request, pk):
    delegation = get_object_or_404(
        _reachable_delegations(request.user).filter(importer_id__in=active_memberships(request.user).values("business_id")),
        pk=pk,
    )
    approve = request.POST.get("decision") == "approve"
    try:
        services.delegation_decide(actor=request.user, delegation=delegation, approve=approve)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        text = (_("%(broker)s may now act for you.") if approve
                else _("The request from %(broker)s was rejected."))
        messages.success(request, text % {"broker": delegation.broker.display_name})
    return redirect("delegations")


@login_required
def delegation_revoke(request, pk):
    delegation = get_object_or_404(_reachable_delegations(request.user), pk=pk)
    broker_side = managed_businesses(request.user, Right.GRANT_DELEGATIONS).filter(pk=delegation.broker_id).exists()
    if not (broker_side or services.can_decide_delegation(request.user, delegation)):
        raise Http404
    if request.method == "POST":
        try:
            services.delegation_revoke(actor=request.user, delegation=delegation)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("The delegation between %(importer)s and %(broker)s was revoked.")
                             % {"importer": delegation.importer.display_name,
                                "broker": delegation.broker.display_name})
        return redirect("delegations")
    return _render(request, "accounts/delegation_revoke.html", {"delegation": delegation})


@login_required
def delegation_edit(request, pk):
    """Extend or narrow a delegation in place (no revoke, so the broker is never cut off)."""
    delegation = get_object_or_404(
        _reachable_delegations(request.user).filter(
            status__in=[Delegation.Status.ACTIVE, Delegation.Status.REQUESTED]
        ).prefetch_related("program_accounts"),
        pk=pk,
    )
    importer_side = services.can_decide_delegation(request.user, delegation)
    broker_side = services.can_change_delegation_on_broker_side(request.user, delegation)
    if not (importer_side or broker_side):
        raise Http404
    current = [pa.pk for pa in delegation.program_accounts.all()]
    if importer_side:
        is_bam, pam_accounts = _importer_rights(request.user, delegation.importer)
        accounts = delegation.importer.program_accounts.order_by("number")
        if not is_bam:
            accounts = accounts.filter(pk__in=pam_accounts)
        business_allowed = is_bam
    else:
        # The broker narrows: it picks among the RM accounts it already holds.
        is_bam = False
        business_allowed = delegation.coverage == Delegation.Coverage.BUSINESS
        accounts = (delegation.importer.program_accounts.order_by("number") if business_allowed
                    else ProgramAccount.objects.filter(pk__in=current).order_by("number"))
    form = DelegationEditForm(request.POST or None, delegation=delegation, accounts=accounts,
                              business_coverage_allowed=business_allowed)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.delegation_update(
                actor=request.user, delegation=delegation, coverage=data["coverage"],
                program_accounts=list(data["program_accounts"]), scopes=form.scope_dict(),
                valid_from=data["valid_from"], valid_to=data["valid_to"], note=data["note"],
            )
        except ApplicationError as exc:
            add_service_errors(form, exc, form.service_field_map)
        else:
            messages.success(request, _("The delegation between %(importer)s and %(broker)s was changed.")
                             % {"importer": delegation.importer.display_name,
                                "broker": delegation.broker.display_name})
            return redirect("delegations")
    return _render(request, "accounts/delegation_edit.html", {
        "form": form, "delegation": delegation, "importer_side": importer_side,
    })


@login_required
def client_group_edit(request, pk=None):
    managed_firms = _bam_businesses(request.user).filter(kind=Business.Kind.BROKER)
    group = None
    if pk is not None:
        group = get_object_or_404(ClientGroup.objects.filter(broker__in=managed_firms).select_related("broker"), pk=pk)
        firm = group.broker
    else:
        firm = managed_firms.first()
        if firm is None:
            raise Http404
    clients = Business.objects.filter(
        delegations_granted__broker=firm, delegations_granted__status=Delegation.Status.ACTIVE
    ).distinct().order_by("legal_name")
    members = User.objects.filter(
        memberships__business=firm, memberships__status=Membership.Status.ACTIVE
    ).distinct().order_by("email")
    initial = {"name": group.name, "clients": group.clients.all(), "members": group.members.all()} if group else None
    form = ClientGroupForm(request.POST or None, clients=clients, members=members, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.client_group_save(
                actor=request.user, broker=firm, name=data["name"], group=group,
                client_ids=[c.pk for c in data["clients"]], member_ids=[m.pk for m in data["members"]],
            )
        except ApplicationError as exc:
            add_service_errors(form, exc, form.service_field_map)
        else:
            messages.success(request, _("The client group %(name)s was saved.") % {"name": data["name"]})
            return redirect("delegations")
    return _render(request, "accounts/client_group_form.html", {"form": form, "group": group, "firm": firm})


# --- Audit trail --------------------------------------------------------------------------------

@login_required
def audit(request):
    business = _managed_target(request, _bam_businesses(request.user))
    if business is None:
        raise Http404
    events = AuditEvent.objects.filter(acting_for=business).select_related("actor")
    page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = audit_text.with_text(page.object_list)  # sentences, labels and money, in the reader's language
    return _render(request, "accounts/audit.html", {"business": business, "page": page})
