"""Serializers for the offsetting API. Output shapes read only what the gated querysets loaded;
input shapes validate types; the rules stay in ``services``."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import Business
from accounts.serializers import ProgramAccountBriefSerializer
from billing.ledger.models import LedgerEntry
from carm_portal.validators import MAX_ID

from . import selectors
from .models import Allocation, Refund

_MONEY = {"max_digits": 14, "decimal_places": 2, "read_only": True}


@extend_schema_field({"type": "string", "description": "The ledger entry kind: " + ", ".join(LedgerEntry.Kind.values)})
class EntryKindField(serializers.CharField):
    """The entry kind as a plain string in the schema: an enum named "Kind" would collide with
    Business.kind (spectacular's enum naming), and settings are not this app's to change."""


class EntryRefSerializer(serializers.ModelSerializer):
    """A ledger entry as an offset refers to it: RM account, reference (transaction number), kind, period."""

    program_account = ProgramAccountBriefSerializer(read_only=True)
    kind = EntryKindField(read_only=True)

    class Meta:
        model = LedgerEntry
        fields = ["id", "program_account", "kind", "reference", "description", "amount", "effective_date",
                  "billing_period"]
        read_only_fields = fields


class AllocationSerializer(serializers.ModelSerializer):
    credit = EntryRefSerializer(read_only=True)
    debt = EntryRefSerializer(read_only=True)

    class Meta:
        model = Allocation
        fields = ["id", "credit", "debt", "amount", "applied_on", "method", "created_at"]
        read_only_fields = fields


class CreditSerializer(EntryRefSerializer):
    allocated = serializers.DecimalField(help_text=_("Already used to pay debts."), **_MONEY)
    remaining = serializers.DecimalField(help_text=_("Still available."), **_MONEY)

    class Meta(EntryRefSerializer.Meta):
        fields = [*EntryRefSerializer.Meta.fields, "allocated", "remaining"]
        read_only_fields = fields


class DebtSerializer(EntryRefSerializer):
    allocated = serializers.DecimalField(help_text=_("Already paid by credits."), **_MONEY)
    remaining = serializers.DecimalField(help_text=_("Left to pay."), **_MONEY)
    due_date = serializers.SerializerMethodField()

    class Meta(EntryRefSerializer.Meta):
        fields = [*EntryRefSerializer.Meta.fields, "allocated", "remaining", "due_date"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.DATE)
    def get_due_date(self, obj):
        memo = self.context.setdefault("due_dates", selectors.DueDates()) if self.context is not None else None
        return selectors.due_date(obj, memo)


class ManualApplyInputSerializer(serializers.Serializer):
    credit = serializers.IntegerField(help_text=_("The credit ledger entry's id (see offsets/credits/)."),
                                      min_value=1, max_value=MAX_ID)
    debts = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID), allow_empty=False, max_length=500,
        help_text=_("Debt ledger entry ids (see offsets/debts/); the credit must pay each in full."),
    )


class RunInputSerializer(serializers.Serializer):
    program_account = serializers.IntegerField(help_text=_("The RM program account's id."), min_value=1, max_value=MAX_ID)


class RunSerializer(serializers.Serializer):
    program_account = serializers.IntegerField(read_only=True)
    queued = serializers.BooleanField(read_only=True)


class RefundSerializer(serializers.ModelSerializer):
    program_account = ProgramAccountBriefSerializer(read_only=True)
    payee = serializers.CharField(source="payee.legal_name", read_only=True)

    class Meta:
        model = Refund
        fields = ["id", "program_account", "payee", "amount", "status", "reason", "requested_at", "approved_at",
                  "decided_at", "rejection_reason"]
        read_only_fields = fields


class RefundRequestInputSerializer(serializers.Serializer):
    program_account = serializers.IntegerField(help_text=_("The RM program account's id."), min_value=1, max_value=MAX_ID)
    amount = serializers.DecimalField(
        max_digits=14, decimal_places=2, required=False, allow_null=True,
        help_text=_("Leave out to ask for all the credit that can be refunded now."),
    )
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class PreferenceSerializer(serializers.ModelSerializer):
    can_change = serializers.SerializerMethodField()

    class Meta:
        model = Business
        fields = ["id", "bn9", "legal_name", "offsetting_preference", "can_change"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_can_change(self, obj) -> bool:
        return obj.pk in self.context.get("changers", set())


class PreferenceUpdateInputSerializer(serializers.Serializer):
    offsetting_preference = serializers.ChoiceField(choices=Business.OffsettingPreference.choices)
