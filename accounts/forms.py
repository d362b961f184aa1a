"""Forms for the accounts pages. They parse input only; the rules live in accounts.services."""

from __future__ import annotations

import re

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.forms.models import fields_for_model, model_to_dict
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from carm_portal.exceptions import ApplicationError
from carm_portal.validators import date_validators

from .models import Business, Delegation, ProgramAccount, User
from .roles import DELEGATION_FLAGS, Role
from .validators import validate_bn9, validate_program_account_number

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")

# The five visibility flags of a delegation, labelled as on the model.
SCOPE_CHOICES = [
    (flag, capfirst(Delegation._meta.get_field(f"scope_{flag}").verbose_name)) for flag in DELEGATION_FLAGS
]


def add_service_errors(form: forms.BaseForm, exc: ApplicationError,
                       field_map: dict[str, str | None] | None = None) -> None:
    """Show a service's ApplicationError on the form: its message on top, field errors in place.

    ``field_map`` renames the service's field names to the form's (``number`` → the RM field).
    A field the form does not have becomes a form-wide error, so no message is ever lost.
    """
    field_map = field_map or {}
    form.add_error(None, exc.message)
    for name, messages in exc.field_errors.items():
        target = field_map.get(name, name)
        if target not in form.fields:
            target = None
        if isinstance(messages, str):
            messages = [messages]
        for message in messages:
            if target is None and message == exc.message:
                continue
            form.add_error(target, message)


class LoginForm(AuthenticationForm):
    """The login is the email address (stored lower-case)."""

    username = forms.EmailField(
        label=_("Email address"), max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )

    def clean_username(self) -> str:
        return self.cleaned_data["username"].strip().lower()


# --- Businesses ---------------------------------------------------------------------------------

PROFILE_FIELDS = [
    "legal_name", "operating_name", "street", "city", "province", "postal_code", "country",
    "is_non_resident", "accounts_itself", "payment_method", "billing_contact_email",
    "offsetting_preference",
]


class BusinessProfileForm(forms.Form):
    """The editable part of a business profile, with the model's labels and choices.

    A plain form (not a ModelForm) so the business instance stays untouched until
    ``business_update`` records the before/after difference.
    """

    def __init__(self, *args, business: Business, **kwargs):
        kwargs.setdefault("initial", model_to_dict(business, fields=PROFILE_FIELDS))
        super().__init__(*args, **kwargs)
        self.fields.update(fields_for_model(Business, fields=PROFILE_FIELDS))
        self.fields["country"].help_text = _("Two-letter code, e.g. CA or US.")
        self.fields["legal_name"].help_text = _("Exactly as in CBSA's records.")


class BusinessRegisterForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("This business is"), choices=Business.Kind.choices, initial=Business.Kind.IMPORTER,
        widget=forms.RadioSelect,
    )
    legal_name = forms.CharField(label=_("Legal name"), max_length=200,
                                 help_text=_("Exactly as in CBSA's records."))
    operating_name = forms.CharField(label=_("Operating name"), max_length=200, required=False)
    bn9 = forms.CharField(
        label=_("Business Number (BN9)"), max_length=11, validators=[validate_bn9],
        help_text=_("The 9-digit CRA Business Number, e.g. 123456782."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    program_account_number = forms.CharField(
        label=_("First RM program account"), max_length=20, validators=[validate_program_account_number],
        help_text=_("BN9 + RM + 4 digits, e.g. 123456782RM0001. Other RM accounts can be added later."),
    )
    broker_licence_number = forms.CharField(
        label=_("Broker licence number"), max_length=20, required=False,
        help_text=_("Customs brokers only."),
    )
    is_non_resident = forms.BooleanField(label=_("Non-resident importer (NRI)"), required=False)
    street = forms.CharField(label=_("Street address"), max_length=200, required=False)
    city = forms.CharField(label=_("City"), max_length=100, required=False)
    province = forms.CharField(label=_("Province / state"), max_length=50, required=False)
    postal_code = forms.CharField(label=_("Postal code"), max_length=20, required=False)
    country = forms.CharField(label=_("Country"), max_length=2, initial="CA",
                              help_text=_("Two-letter code, e.g. CA or US."))

    # The service reports the RM account's own field as "number".
    service_field_map = {"number": "program_account_number"}


class MembershipRequestForm(forms.Form):
    bn9 = forms.CharField(
        label=_("Your employer's Business Number (BN9)"), max_length=11, validators=[validate_bn9],
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    role = forms.ChoiceField(label=_("Role requested"), choices=Role.choices, initial=Role.READER)
    program_account_number = forms.CharField(
        label=_("RM program account"), max_length=20, required=False,
        validators=[validate_program_account_number],
        help_text=_("Required for a Program Account Manager; leave empty for the whole business."),
    )


class MembershipRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
    program_account = forms.ModelChoiceField(
        label=_("RM program account"), queryset=ProgramAccount.objects.none(), required=False,
        empty_label=_("The whole business"),
        help_text=_("A Program Account Manager manages one RM account."),
    )

    def __init__(self, *args, accounts, allow_bam: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["program_account"].queryset = accounts
        if not allow_bam:
            self.fields["role"].choices = [c for c in Role.choices if c[0] != Role.BAM]
            self.fields["program_account"].required = True
            self.fields["program_account"].empty_label = None


# --- Delegations --------------------------------------------------------------------------------

class _DelegationTermsForm(forms.Form):
    coverage = forms.ChoiceField(
        label=_("Coverage"), choices=Delegation.Coverage.choices, initial=Delegation.Coverage.BUSINESS,
        widget=forms.RadioSelect,
    )
    scopes = forms.MultipleChoiceField(
        label=_("What the broker may see and do"), choices=SCOPE_CHOICES, required=False,
        initial=list(DELEGATION_FLAGS), widget=forms.CheckboxSelectMultiple,
    )
    valid_from = forms.DateField(label=_("Valid from"), widget=DATE_WIDGET, initial=timezone.localdate,
                                 validators=date_validators(future=True))
    valid_to = forms.DateField(label=_("Valid to"), widget=DATE_WIDGET, required=False,
                               help_text=_("Leave empty: until revoked."), validators=date_validators(future=True))
    note = forms.CharField(label=_("Note"), max_length=300, required=False)

    def scope_dict(self) -> dict[str, bool]:
        chosen = set(self.cleaned_data.get("scopes") or [])
        return {flag: flag in chosen for flag in DELEGATION_FLAGS}

    def clean(self):
        data = super().clean()
        start, end = data.get("valid_from"), data.get("valid_to")
        if start and end and end < start:
            self.add_error("valid_to", _("The end date is before the start date."))
        return data


class DelegationGrantForm(_DelegationTermsForm):
    """The importer grants a delegation to a broker found by its BN9."""

    broker_bn9 = forms.CharField(
        label=_("Customs broker's Business Number (BN9)"), max_length=11, validators=[validate_bn9],
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    program_accounts = forms.ModelMultipleChoiceField(
        label=_("RM accounts covered"), queryset=ProgramAccount.objects.none(), required=False,
        widget=forms.CheckboxSelectMultiple, help_text=_("For program management only."),
    )
    field_order = ["broker_bn9", "coverage", "program_accounts", "scopes", "valid_from", "valid_to", "note"]
    service_field_map = {"broker": "broker_bn9"}

    def __init__(self, *args, accounts, business_coverage_allowed: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["program_accounts"].queryset = accounts
        if not business_coverage_allowed:
            # A PAM may only grant program management over its own RM account.
            self.fields["coverage"].choices = [
                c for c in Delegation.Coverage.choices if c[0] == Delegation.Coverage.PROGRAM
            ]
            self.fields["coverage"].initial = Delegation.Coverage.PROGRAM


class DelegationRequestForm(_DelegationTermsForm):
    """A broker firm asks an importer, found by its BN9, for a delegation."""

    importer_bn9 = forms.CharField(
        label=_("Importer's Business Number (BN9)"), max_length=11, validators=[validate_bn9],
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    program_account_numbers = forms.CharField(
        label=_("RM accounts"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("For program management: the RM numbers, separated by commas or spaces."),
    )
    field_order = ["importer_bn9", "coverage", "program_account_numbers", "scopes", "valid_from",
                   "valid_to", "note"]
    service_field_map = {"importer": "importer_bn9", "program_accounts": "program_account_numbers"}

    def clean_program_account_numbers(self) -> list[str]:
        raw = self.cleaned_data.get("program_account_numbers") or ""
        numbers = [n for n in re.split(r"[\s,;]+", raw.upper()) if n]
        errors = []
        for number in numbers:
            try:
                validate_program_account_number(number)
            except forms.ValidationError as exc:
                errors.extend(f"{number}: {m}" for m in exc.messages)
        if errors:
            raise forms.ValidationError(errors)
        return numbers


class DelegationEditForm(_DelegationTermsForm):
    """Change an open delegation's coverage, RM accounts, scopes and dates in place."""

    program_accounts = forms.ModelMultipleChoiceField(
        label=_("RM accounts covered"), queryset=ProgramAccount.objects.none(), required=False,
        widget=forms.CheckboxSelectMultiple, help_text=_("For program management only."),
    )
    field_order = ["coverage", "program_accounts", "scopes", "valid_from", "valid_to", "note"]
    service_field_map = {"__all__": None}

    def __init__(self, *args, delegation: Delegation, accounts, business_coverage_allowed: bool = True, **kwargs):
        kwargs.setdefault("initial", {
            "coverage": delegation.coverage,
            "program_accounts": [pa.pk for pa in delegation.program_accounts.all()],
            "scopes": delegation.scopes,
            "valid_from": delegation.valid_from,
            "valid_to": delegation.valid_to,
            "note": delegation.note,
        })
        super().__init__(*args, **kwargs)
        self.fields["program_accounts"].queryset = accounts
        # An active delegation may have started long ago: its start date is not a new input.
        self.fields["valid_from"].validators = []
        if not business_coverage_allowed:
            self.fields["coverage"].choices = [
                c for c in Delegation.Coverage.choices if c[0] == Delegation.Coverage.PROGRAM
            ]


class ClientGroupForm(forms.Form):
    name = forms.CharField(label=_("Group name"), max_length=100)
    clients = forms.ModelMultipleChoiceField(
        label=_("Clients"), queryset=Business.objects.none(), required=False,
        widget=forms.CheckboxSelectMultiple, help_text=_("Importers with an active delegation to your firm."),
    )
    members = forms.ModelMultipleChoiceField(
        label=_("Employees"), queryset=User.objects.none(), required=False,
        widget=forms.CheckboxSelectMultiple, help_text=_("They act for the clients of this group."),
    )
    service_field_map = {"__all__": "name"}

    def __init__(self, *args, clients, members, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["clients"].queryset = clients
        self.fields["members"].queryset = members
