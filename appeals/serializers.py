"""Serializers for the appeals API: output serializers for rows, input serializers per operation."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from carm_portal.validators import MAX_ID, date_validators

from . import deadlines, paid_or_secured
from .models import (
    Appeal,
    AppealDocument,
    AppealTransition,
    ExtensionApplication,
    Penalty,
    StatementOfAdjustment,
)


def _choice_field(choices, **kwargs) -> serializers.ChoiceField:
    """A choice field documented as a string listing its values, not as an enum component.

    drf-spectacular turns every enum into a component named after the field ("status", "kind"),
    and other apps' fields of the same names make that a naming-collision warning; the values
    are listed in the description instead (ENUM_NAME_OVERRIDES in settings would be the other way).
    """
    values = [value for value, _label in choices]
    schema = {"type": "string", "description": "One of: " + ", ".join(values)
              + (" (or empty)" if kwargs.get("allow_blank") else "")}
    field_class = extend_schema_field(schema)(type("InlineChoiceField", (serializers.ChoiceField,), {}))
    return field_class(choices=choices, **kwargs)


class DeadlineSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    date = serializers.DateField()
    days_left = serializers.IntegerField()
    text = serializers.CharField()


class _FilingDeadlineMixin(serializers.Serializer):
    appeal_deadline = serializers.SerializerMethodField()
    days_left = serializers.SerializerMethodField()

    def _decided(self, obj):
        return obj.served_on if isinstance(obj, Penalty) else obj.decision_date

    @extend_schema_field(OpenApiTypes.DATE)
    def get_appeal_deadline(self, obj):
        return deadlines.appeal_deadline(self._decided(obj))

    @extend_schema_field(OpenApiTypes.INT)
    def get_days_left(self, obj):
        return deadlines.days_left(deadlines.appeal_deadline(self._decided(obj)), timezone.localdate())


class PenaltySerializer(_FilingDeadlineMixin, serializers.ModelSerializer):
    program_account_number = serializers.CharField(source="program_account.number", read_only=True)

    class Meta:
        model = Penalty
        fields = ["id", "program_account", "program_account_number", "npa_number", "contravention_code",
                  "description", "amount", "served_on", "appeal_deadline", "days_left"]


class PenaltyCreateInputSerializer(serializers.Serializer):
    program_account = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    npa_number = serializers.CharField(max_length=30)
    contravention_code = serializers.CharField(max_length=10)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    served_on = serializers.DateField(validators=date_validators(future=False))


class StatementOfAdjustmentSerializer(_FilingDeadlineMixin, serializers.ModelSerializer):
    program_account_number = serializers.CharField(source="program_account.number", read_only=True)
    cad_transaction_number = serializers.CharField(source="cad.transaction_number", read_only=True)

    class Meta:
        model = StatementOfAdjustment
        fields = ["id", "program_account", "program_account_number", "cad", "cad_transaction_number", "number",
                  "decision_date", "previous_amount", "new_amount", "change", "reason", "secured",
                  "appeal_deadline", "days_left"]


class StatementCreateInputSerializer(serializers.Serializer):
    cad = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    number = serializers.CharField(max_length=30)
    decision_date = serializers.DateField(validators=date_validators(future=False))
    reason = serializers.CharField()
    new_amount = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, allow_null=True)
    change = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, allow_null=True)


class TransitionSerializer(serializers.ModelSerializer):
    actor = serializers.EmailField(source="actor.email", read_only=True)
    from_status = _choice_field(Appeal.Status.choices, read_only=True, allow_blank=True)
    to_status = _choice_field(Appeal.Status.choices, read_only=True)
    assigned_to = serializers.EmailField(source="assigned_to.email", read_only=True, allow_null=True, default=None,
                                         help_text=_("On an \"assigned\" step: the officer given the file."))

    class Meta:
        model = AppealTransition
        fields = ["from_status", "to_status", "actor", "at", "note", "assigned_to"]


class DocumentSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = AppealDocument
        fields = ["id", "original_name", "content_type", "size", "sha256", "uploaded_at", "url"]

    @extend_schema_field(serializers.CharField(help_text="The download path (relative to the portal)."))
    def get_url(self, obj):
        return reverse("appeals:document", args=[obj.pk])


class AppealSerializer(serializers.ModelSerializer):
    program_account_number = serializers.CharField(source="program_account.number", read_only=True)
    npa_number = serializers.CharField(source="penalty.npa_number", read_only=True, allow_null=True, default=None)
    statements = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    kind = _choice_field(Appeal.Kind.choices, read_only=True)
    issue = _choice_field(Appeal.Issue.choices, read_only=True)
    status = _choice_field(Appeal.Status.choices, read_only=True)
    outcome = _choice_field(Appeal.Outcome.choices, read_only=True, allow_blank=True)
    deadlines = serializers.SerializerMethodField()
    letter_url = serializers.SerializerMethodField()

    class Meta:
        model = Appeal
        fields = ["id", "kind", "issue", "status", "outcome", "program_account", "program_account_number", "penalty",
                  "npa_number", "statements", "decision_date", "amount_in_dispute", "grounds", "submitted_at",
                  "info_due_date", "decided_on", "decision_reasons", "decision_amount", "deadlines", "letter_url"]

    @extend_schema_field(DeadlineSerializer(many=True))
    def get_deadlines(self, obj):
        return DeadlineSerializer(deadlines.deadlines_for(obj, timezone.localdate()), many=True).data

    @extend_schema_field(serializers.CharField(allow_null=True, help_text="The decision letter's path; null before one is produced."))
    def get_letter_url(self, obj):
        return reverse("appeals:letter", args=[obj.pk]) if obj.letter_file else None


class PaidOrSecuredSerializer(serializers.Serializer):
    """s.60: what must still be paid on the goods under appeal before the request can be filed."""

    ok = serializers.BooleanField(help_text="True: paid or secured, the request can be filed.")
    to_pay = serializers.DecimalField(max_digits=14, decimal_places=2,
                                      help_text="Duties and interest on the goods under appeal still to pay.")
    overdue = serializers.DecimalField(max_digits=14, decimal_places=2,
                                       help_text="The part of to_pay already past its payment due date.")
    pay_by = serializers.DateField(source="deadline", allow_null=True,
                                   help_text="The last day to file (the appeal deadline); null once an extension is granted.")
    unpaid = serializers.DecimalField(max_digits=14, decimal_places=2)
    credit_applied = serializers.DecimalField(max_digits=14, decimal_places=2)
    rpp_secured = serializers.DecimalField(max_digits=14, decimal_places=2)
    secured_by_cbsa = serializers.DecimalField(max_digits=14, decimal_places=2)
    transactions = serializers.ListField(child=serializers.CharField())


class AppealDetailSerializer(AppealSerializer):
    transitions = TransitionSerializer(many=True, read_only=True)
    documents = DocumentSerializer(many=True, read_only=True)
    paid_or_secured = serializers.SerializerMethodField()

    class Meta(AppealSerializer.Meta):
        fields = [*AppealSerializer.Meta.fields, "transitions", "documents", "paid_or_secured"]

    @extend_schema_field(PaidOrSecuredSerializer(allow_null=True))
    def get_paid_or_secured(self, obj):
        """s.60 requests not yet filed: what must be paid to file, and by when (else null)."""
        if obj.status not in (Appeal.Status.DRAFT, Appeal.Status.REJECTED_INCOMPLETE):
            return None
        position = paid_or_secured.for_appeal(obj, timezone.localdate())
        return PaidOrSecuredSerializer(position).data if position is not None else None


class AppealCreateInputSerializer(serializers.Serializer):
    penalty = serializers.IntegerField(required=False, allow_null=True, help_text="An NPA (s.129.1 appeal).",
                                       min_value=1, max_value=MAX_ID)
    statements = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ID), required=False,
                                       default=list,
                                       help_text="Statements of adjustment on one issue (s.60 request).")
    issue = _choice_field(Appeal.Issue.choices, required=False, allow_blank=True, default="")
    grounds = serializers.CharField(required=False, allow_blank=True, default="")


class AppealSubmitInputSerializer(serializers.Serializer):
    grounds = serializers.CharField(required=False, allow_blank=True, allow_null=True, default=None)


class NoteInputSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="")


class AssignInputSerializer(NoteInputSerializer):
    officer = serializers.IntegerField(help_text="A CBSA officer (staff user) id.", min_value=1, max_value=MAX_ID)


class DecideInputSerializer(serializers.Serializer):
    outcome = _choice_field(Appeal.Outcome.choices)
    reasons = serializers.CharField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, allow_null=True)


class DocumentUploadInputSerializer(serializers.Serializer):
    file = serializers.FileField()


class ExtensionSerializer(serializers.ModelSerializer):
    status = _choice_field(ExtensionApplication.Status.choices, read_only=True)
    class Meta:
        model = ExtensionApplication
        fields = ["id", "program_account", "penalty", "statement", "reasons", "status", "requested_on",
                  "decided_at", "decision_note"]


class ExtensionCreateInputSerializer(serializers.Serializer):
    penalty = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=MAX_ID)
    statement = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=MAX_ID)
    reasons = serializers.CharField()


class ExtensionDecideInputSerializer(serializers.Serializer):
    grant = serializers.BooleanField()
    note = serializers.CharField(required=False, allow_blank=True, default="")
