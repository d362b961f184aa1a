from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.access import cbsa_officers
from accounts.models import User

from .models import Appeal


class S60AppealForm(forms.Form):
    statements = forms.ModelMultipleChoiceField(
        queryset=None, widget=forms.CheckboxSelectMultiple, label=_("Statements of adjustment on this issue"),
        help_text=_("Group every statement of adjustment on one issue in one request."),
    )
    issue = forms.ChoiceField(label=_("Issue"), choices=[("", "—")] + [
        c for c in Appeal.Issue.choices if c[0] != Appeal.Issue.PENALTY])
    grounds = forms.CharField(label=_("Grounds"), widget=forms.Textarea(attrs={"rows": 6}), required=False,
                              help_text=_("Why the re-determination is wrong, with the facts and the law."))

    def __init__(self, *args, statements, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["statements"].queryset = statements
        self.fields["statements"].label_from_instance = lambda s: (
            f"{s.number} · {s.decision_date:%Y-%m-%d} · CAD {s.cad.transaction_number} · {s.change} $")


class PenaltyAppealForm(forms.Form):
    grounds = forms.CharField(label=_("Grounds"), widget=forms.Textarea(attrs={"rows": 6}), required=False,
                              help_text=_("Why the penalty should be cancelled or reduced."))


class DocumentForm(forms.Form):
    file = forms.FileField(label=_("Supporting document"),
                           help_text=_("PDF, PNG or JPEG, up to the size limit."))


class GroundsForm(forms.Form):
    grounds = forms.CharField(label=_("Grounds"), widget=forms.Textarea(attrs={"rows": 6}), required=False)


class NoteForm(forms.Form):
    note = forms.CharField(label=_("Note"), widget=forms.Textarea(attrs={"rows": 2}), required=False)


class ExtensionForm(forms.Form):
    reasons = forms.CharField(
        label=_("Reasons"), widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("Show that you could not act (or intended to file) within the 90 days, that granting is "
                    "just and equitable, and that you applied as soon as circumstances permitted."),
    )


class ReviewForm(forms.Form):
    ACTIONS = [
        ("acknowledge", _("Acknowledge")), ("assign", _("Assign")), ("request_info", _("Request information")),
        ("reject_incomplete", _("Reject as incomplete")), ("decide", _("Decide")), ("close", _("Close")),
    ]
    action = forms.ChoiceField(choices=ACTIONS, widget=forms.HiddenInput)
    officer = forms.ModelChoiceField(queryset=User.objects.none(), required=False, label=_("Officer"))
    outcome = forms.ChoiceField(choices=[("", "—")] + list(Appeal.Outcome.choices), required=False,
                                label=_("Outcome"))
    amount = forms.DecimalField(max_digits=14, decimal_places=2, required=False, label=_("Amount allowed"))
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, label=_("Note / reasons"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["officer"].queryset = cbsa_officers().order_by("email")
