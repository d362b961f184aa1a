"""Reads for appeals: every user-facing queryset starts from the access gate.

``Scope.APPEALS`` to see, ``Scope.FILE_APPEALS`` to file. CBSA officers (``accounts.access``) work the
review queue over every appeal; anything else outside the gate answers 404.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from accounts.access import is_cbsa_officer, program_accounts_for
from accounts.models import User
from accounts.roles import Scope

from .models import Appeal, ExtensionApplication, Penalty, StatementOfAdjustment


def is_cbsa(user: User) -> bool:
    return is_cbsa_officer(user)


def appeals_for(user: User, scope: Scope = Scope.APPEALS) -> QuerySet[Appeal]:
    return Appeal.objects.filter(program_account__in=program_accounts_for(user, scope))


def visible_appeals(user: User) -> QuerySet[Appeal]:
    """What a user may open: its gated appeals, or every appeal for CBSA staff."""
    return Appeal.objects.all() if is_cbsa(user) else appeals_for(user)


def penalties_for(user: User, scope: Scope = Scope.APPEALS) -> QuerySet[Penalty]:
    if is_cbsa(user) and scope == Scope.APPEALS:
        return Penalty.objects.all()
    return Penalty.objects.filter(program_account__in=program_accounts_for(user, scope))


def statements_for(user: User, scope: Scope = Scope.APPEALS) -> QuerySet[StatementOfAdjustment]:
    if is_cbsa(user) and scope == Scope.APPEALS:
        return StatementOfAdjustment.objects.all()
    return StatementOfAdjustment.objects.filter(program_account__in=program_accounts_for(user, scope))


def extensions_for(user: User, scope: Scope = Scope.APPEALS) -> QuerySet[ExtensionApplication]:
    if is_cbsa(user) and scope == Scope.APPEALS:
        return ExtensionApplication.objects.all()
    return ExtensionApplication.objects.filter(program_account__in=program_accounts_for(user, scope))


def _get_or_404(qs: QuerySet, pk):
    try:
        return qs.get(pk=pk)
    except (qs.model.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def get_appeal_for_user_or_404(user: User, pk) -> Appeal:
    return _get_or_404(visible_appeals(user).select_related("program_account__business", "penalty"), pk)


def get_penalty_for_user_or_404(user: User, pk, scope: Scope = Scope.APPEALS) -> Penalty:
    return _get_or_404(penalties_for(user, scope).select_related("program_account__business"), pk)


def get_statement_for_user_or_404(user: User, pk, scope: Scope = Scope.APPEALS) -> StatementOfAdjustment:
    return _get_or_404(statements_for(user, scope).select_related("program_account__business", "cad"), pk)


def with_list_relations(qs: QuerySet[Appeal]) -> QuerySet[Appeal]:
    return qs.select_related("program_account__business", "penalty", "extension").prefetch_related("statements")


def open_appeals_in(account_ids) -> QuerySet[Appeal]:
    return Appeal.objects.filter(program_account_id__in=list(account_ids), status__in=Appeal.OPEN_STATUSES + (
        Appeal.Status.DECISION_RENDERED,))
