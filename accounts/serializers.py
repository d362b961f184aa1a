"""Serializers for the accounts API: output shapes, and input shapes the endpoints parse.

Output serializers only read what the view's (gated, select_related) queryset already loaded.
Input serializers validate types and formats; business rules stay in ``accounts.services``.
Any serializer that lets a client point at another object (a business, an RM account) takes
its choices from the access gate, so an id outside the user's reach is "not found" (400),
exactly like an id that does not exist.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from carm_portal.api import FieldsBuiltOnce
from carm_portal.validators import date_validators

from .models import Business, Delegation, Membership, ProgramAccount, User
from .roles import DELEGATION_FLAGS
from .validators import validate_bn9, validate_program_account_number

# --- Output ------------------------------------------------------------------------------------


class BusinessBriefSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    display_name = serializers.CharField(read_only=True)

    class Meta:
        model = Business
        fields = ["id", "kind", "bn9", "legal_name", "display_name"]
        read_only_fields = fields


class BusinessSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    display_name = serializers.CharField(read_only=True)
    # Blank when none is set, so a plain string in the schema ("" is not an "email").
    billing_contact_email = serializers.CharField(read_only=True)

    class Meta:
        model = Business
        fields = [
            "id", "kind", "bn9", "legal_name", "operating_name", "display_name",
            "street", "city", "province", "postal_code", "country", "is_non_resident",
            "broker_licence_number", "accounts_itself", "payment_method", "billing_contact_email",
            "offsetting_preference", "created_at",
        ]
        read_only_fields = fields


class ProgramAccountBriefSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    class Meta:
        model = ProgramAccount
        fields = ["id", "number", "name"]
        read_only_fields = fields


class ProgramAccountSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    business = BusinessBriefSerializer(read_only=True)

    class Meta:
        model = ProgramAccount
        fields = ["id", "number", "name", "activity", "status", "rpp_status", "business", "created_at"]
        read_only_fields = fields


class MembershipSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    business = BusinessBriefSerializer(read_only=True)
    program_account = ProgramAccountBriefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Membership
        fields = ["id", "business", "role", "program_account", "status", "requested_at", "decided_at"]
        read_only_fields = fields


class ScopesField(serializers.ListField):
    """Delegation visibility flags as a list of strings (``accounts.roles.DELEGATION_FLAGS``)."""

    child = serializers.ChoiceField(choices=DELEGATION_FLAGS)


class DelegationSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    importer = BusinessBriefSerializer(read_only=True)
    broker = BusinessBriefSerializer(read_only=True)
    program_accounts = ProgramAccountBriefSerializer(many=True, read_only=True)
    scopes = ScopesField(read_only=True)

    class Meta:
        model = Delegation
        fields = [
            "id", "importer", "broker", "coverage", "program_accounts", "scopes", "valid_from",
            "valid_to", "status", "note", "requested_at", "decided_at", "revoked_at",
        ]
        read_only_fields = fields


class UserSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email", "first_name", "last_name", "preferred_language"]
        read_only_fields = fields


class MeSerializer(serializers.Serializer):
    user = UserSerializer(read_only=True)
    memberships = MembershipSerializer(many=True, read_only=True)
    businesses = BusinessBriefSerializer(
        many=True, read_only=True, help_text=_("Importer businesses the user may act for.")
    )
    delegations_held = DelegationSerializer(
        many=True, read_only=True,
        help_text=_("For a customs broker's employee: the delegations in force it acts through."),
    )


class ReadinessItemSerializer(serializers.Serializer):
    key = serializers.CharField(read_only=True)
    label = serializers.CharField(read_only=True)
    ok = serializers.BooleanField(read_only=True)
    detail = serializers.CharField(read_only=True)
    next_step = serializers.CharField(read_only=True)
    next_url = serializers.CharField(read_only=True)
    counts = serializers.BooleanField(
        read_only=True, help_text=_("False for informational items, which do not count toward the score.")
    )


class ReadinessSerializer(serializers.Serializer):
    """One ``accounts.readiness.AccountReadiness``."""

    program_account = ProgramAccountBriefSerializer(read_only=True)
    business = BusinessBriefSerializer(source="program_account.business", read_only=True)
    score = serializers.IntegerField(read_only=True, min_value=0, max_value=100)
    items = ReadinessItemSerializer(many=True, read_only=True)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(read_only=True)


# --- Input -------------------------------------------------------------------------------------


class TokenObtainInputSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(trim_whitespace=False, style={"input_type": "password"})


class BusinessUpdateInputSerializer(serializers.ModelSerializer):
    """The fields ``accounts.services.business_update`` accepts; all optional (PATCH)."""

    class Meta:
        model = Business
        fields = [
            "legal_name", "operating_name", "street", "city", "province", "postal_code", "country",
            "is_non_resident", "accounts_itself", "payment_method", "billing_contact_email",
            "offsetting_preference", "broker_licence_number",
        ]


class _DelegationTermsInputSerializer(serializers.Serializer):
    coverage = serializers.ChoiceField(choices=Delegation.Coverage.choices, default=Delegation.Coverage.BUSINESS)
    scopes = ScopesField(
        allow_empty=False, required=False,
        help_text=_("Visibility flags to grant. Omitted: all of them."),
    )
    valid_from = serializers.DateField(required=False, help_text=_("Omitted: today."),
                                       validators=date_validators(future=True))
    valid_to = serializers.DateField(required=False, allow_null=True, help_text=_("Omitted or null: until revoked."),
                                     validators=date_validators(future=True))
    note = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")

    def validate_scopes(self, value: list[str]) -> dict[str, bool]:
        # The services take {flag: bool}; a flag left out of the list is not granted.
        return {flag: flag in value for flag in DELEGATION_FLAGS}


class DelegationGrantInputSerializer(_DelegationTermsInputSerializer):
    """The importer side: its BAM (or a PAM, for its own RM) grants a delegation directly."""

    importer = serializers.PrimaryKeyRelatedField(
        queryset=Business.objects.none(), help_text=_("Id of an importer business you manage.")
    )
    broker_bn9 = serializers.CharField(
        validators=[validate_bn9], help_text=_("The customs broker firm's Business Number (BN9).")
    )
    program_accounts = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=ProgramAccount.objects.none(),
        help_text=_("Ids of the RM accounts, for a program delegation."),
    )

    def __init__(self, *args, importers=None, program_accounts=None, **kwargs):
        super().__init__(*args, **kwargs)
        if importers is not None:
            self.fields["importer"].queryset = importers
        if program_accounts is not None:
            self.fields["program_accounts"].child_relation.queryset = program_accounts


class DelegationRequestInputSerializer(_DelegationTermsInputSerializer):
    """The broker side: the firm's manager asks an importer for a delegation."""

    broker = serializers.PrimaryKeyRelatedField(
        queryset=Business.objects.none(), required=False,
        help_text=_("Id of the broker firm you manage. May be left out if you manage only one."),
    )
    importer_bn9 = serializers.CharField(
        validators=[validate_bn9], help_text=_("The importer's Business Number (BN9).")
    )
    program_account_numbers = serializers.ListField(
        child=serializers.CharField(validators=[validate_program_account_number]), required=False,
        help_text=_("RM account numbers (e.g. 123456782RM0001), for a program delegation."),
    )

    def __init__(self, *args, brokers=None, **kwargs):
        super().__init__(*args, **kwargs)
        if brokers is not None:
            self.fields["broker"].queryset = brokers

    def validate(self, attrs):
        if "broker" not in attrs:
            brokers = list(self.fields["broker"].queryset[:2])
            if len(brokers) != 1:
                raise serializers.ValidationError({"broker": [_("Say which broker firm asks.")]})
            attrs["broker"] = brokers[0]
        return attrs


class DelegationUpdateInputSerializer(serializers.Serializer):
    """Change an open delegation in place. Every field is optional: left out keeps its value."""

    coverage = serializers.ChoiceField(choices=Delegation.Coverage.choices, required=False)
    program_account_numbers = serializers.ListField(
        child=serializers.CharField(validators=[validate_program_account_number]), required=False,
        help_text=_("The importer's RM account numbers the delegation covers (program delegation)."),
    )
    scopes = ScopesField(allow_empty=False, required=False, help_text=_("The visibility flags it grants."))
    valid_from = serializers.DateField(required=False)
    valid_to = serializers.DateField(required=False, allow_null=True,
                                     help_text=_("Null: until revoked. Left out: unchanged."),
                                     validators=date_validators(future=True))
    note = serializers.CharField(required=False, allow_blank=True, max_length=300)

    def validate_scopes(self, value: list[str]) -> dict[str, bool]:
        return {flag: flag in value for flag in DELEGATION_FLAGS}
