"""Forms for the Credits page. Choices are built from gated querysets only."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Business
from carm_portal.money import format_cad

from . import selectors


def entry_label(entry) -> str:
    reference = entry.reference or entry.get_kind_display()
    return _("%(ref)s · %(kind)s · period %(period)s · %(left)s left") % {
        "ref": reference, "kind": entry.get_kind_display(), "period": entry.billing_period.isoformat(),
        "left": format_cad(entry.remaining),
    }


class _EntryChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.program_account.number} · {entry_label(obj)}"


class _EntryMultiChoice(forms.ModelMultipleChoiceField):
    due_dates = None

    def label_from_instance(self, obj):
        if self.due_dates is None:
            self.due_dates = selectors.DueDates()
        due = selectors.due_date(obj, self.due_dates).isoformat()
        return f"{obj.program_account.number} · {entry_label(obj)} · " + str(_("due %(date)s") % {"date": due})


class ManualApplyForm(forms.Form):
    credit = _EntryChoice(queryset=None, label=_("Credit to apply"), empty_label=None)
    debts = _EntryMultiChoice(
        queryset=None, label=_("Debts to pay"), widget=forms.CheckboxSelectMultiple,
        help_text=_("The credit must pay each chosen debt in full."),
    )

    # carm_portal.idempotency.form_post: the same form sent twice applies the credit once.
    idempotency_key = forms.CharField(required=False, max_length=100, widget=forms.HiddenInput)

    def __init__(self, *args, account_ids, limit: int = 100, **kwargs):
        from carm_portal.idempotency import new_form_key

        kwargs.setdefault("initial", {}).setdefault("idempotency_key", new_form_key())
        super().__init__(*args, **kwargs)
        # The oldest ``limit`` of each (the API takes any id); ids first, so validation can filter.
        credit_ids = list(selectors.open_credits(account_ids).values_list("pk", flat=True)[:limit])
        debt_ids = list(selectors.open_debts(account_ids).values_list("pk", flat=True)[:limit])
        self.fields["credit"].queryset = selectors.open_credits(account_ids).filter(
            pk__in=credit_ids).select_related("program_account")
        self.fields["debts"].queryset = selectors.open_debts(account_ids).filter(
            pk__in=debt_ids).select_related("program_account")


class RefundRequestForm(forms.Form):
    program_account = forms.ModelChoiceField(queryset=None, label=_("RM account"), empty_label=None)
    amount = forms.DecimalField(
        label=_("Amount"), max_digits=14, decimal_places=2, min_value=Decimal("0.01"), required=False,
        help_text=_("Leave empty to ask for all the credit that can be refunded."),
    )
    reason = forms.CharField(label=_("Note for the CBSA"), max_length=300, required=False)
    # carm_portal.idempotency.form_post: the same form sent twice asks for one refund.
    idempotency_key = forms.CharField(required=False, max_length=100, widget=forms.HiddenInput)

    def __init__(self, *args, accounts, **kwargs):
        from carm_portal.idempotency import new_form_key

        kwargs.setdefault("initial", {}).setdefault("idempotency_key", new_form_key())
        super().__init__(*args, **kwargs)
        self.fields["program_account"].queryset = accounts


class RunForm(forms.Form):
    program_account = forms.ModelChoiceField(queryset=None, label=_("RM account"), empty_label=None)

    def __init__(self, *args, accounts, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["program_account"].queryset = accounts


class PreferenceForm(forms.Form):
    offsetting_preference = forms.ChoiceField(
        label=_("Offsetting preference"), choices=Business.OffsettingPreference.choices, widget=forms.RadioSelect,
    )


class RefundRejectForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False)
