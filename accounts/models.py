import pgtrigger
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .roles import Role
from .validators import normalize_bn, validate_bn9, validate_program_account_number


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create(self, email, password, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create(email, password, **extra)


class User(AbstractUser):
    """A person with a personal login. Their rights come from memberships, never from here."""

    username = None
    email = models.EmailField(_("email address"), unique=True)
    preferred_language = models.CharField(
        _("preferred language"), max_length=5, choices=[("en", "English"), ("fr", "Français")], default="en"
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []
    objects = UserManager()

    class Meta:
        ordering = ["email"]
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        name = self.get_full_name()
        return f"{name} <{self.email}>" if name else self.email


class Business(models.Model):
    """A business identified by its CRA Business Number: an importer, or a customs broker firm."""

    class Kind(models.TextChoices):
        IMPORTER = "importer", _("Importer")
        BROKER = "broker", _("Customs broker")

    class PaymentMethod(models.TextChoices):
        NONE = "", _("Not set")
        PAD = "pad", _("Pre-authorized debit")
        ONLINE_BANKING = "online_banking", _("Online banking / EDI 820")
        DEBIT = "debit", _("Debit card")
        CREDIT_CARD = "credit_card", _("Credit card")
        CHEQUE = "cheque", _("Cheque")

    class OffsettingPreference(models.TextChoices):
        AUTO_BUSINESS = "auto_business", _("Automatic, across all RM accounts of the business")
        AUTO_PROGRAM = "auto_program", _("Automatic, within each RM account")
        MANUAL = "manual", _("Manual")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.IMPORTER)
    legal_name = models.CharField(_("legal name"), max_length=200)
    operating_name = models.CharField(_("operating name"), max_length=200, blank=True)
    bn9 = models.CharField(_("Business Number (BN9)"), max_length=9, unique=True, validators=[validate_bn9])
    street = models.CharField(_("street address"), max_length=200, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    province = models.CharField(_("province / state"), max_length=50, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=20, blank=True)
    country = models.CharField(_("country"), max_length=2, default="CA")
    is_non_resident = models.BooleanField(
        _("non-resident importer (NRI)"), default=False,
        help_text=_("Importer of record with no Canadian premises."),
    )
    broker_licence_number = models.CharField(_("broker licence number"), max_length=20, blank=True)
    accounts_itself = models.BooleanField(
        _("accounts for its own goods"), default=False,
        help_text=_("The importer files its own CADs and needs no broker delegation."),
    )
    payment_method = models.CharField(
        _("payment method"), max_length=20, choices=PaymentMethod.choices, blank=True, default=""
    )
    billing_contact_email = models.EmailField(_("billing contact email"), blank=True)
    offsetting_preference = models.CharField(
        _("offsetting preference"), max_length=20, choices=OffsettingPreference.choices,
        default=OffsettingPreference.AUTO_PROGRAM,
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["legal_name"]
        verbose_name = _("business")
        verbose_name_plural = _("businesses")
        constraints = [
            models.CheckConstraint(
                name="broker_has_licence",
                condition=~Q(kind="broker") | ~Q(broker_licence_number=""),
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.operating_name or self.legal_name

    @property
    def is_broker(self) -> bool:
        return self.kind == self.Kind.BROKER

    def clean(self) -> None:
        self.bn9 = normalize_bn(self.bn9)
        if self.kind == self.Kind.BROKER and not self.broker_licence_number:
            raise ValidationError({"broker_licence_number": _("A customs broker needs its licence number.")})


class ProgramAccount(models.Model):
    """An RM (import/export) program account: BN9 + RM + 4 digits."""

    class Activity(models.TextChoices):
        IMPORTER = "importer", _("Importer")
        EXPORTER = "exporter", _("Exporter")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        INACTIVE = "inactive", _("Inactive")

    class RppStatus(models.TextChoices):
        NOT_ENROLLED = "not_enrolled", _("Not enrolled")
        REQUESTED = "requested", _("Requested")
        ENROLLED = "enrolled", _("Enrolled")
        SUSPENDED = "suspended", _("Suspended")

    business = models.ForeignKey(
        Business, on_delete=models.PROTECT, related_name="program_accounts", verbose_name=_("business")
    )
    number = models.CharField(
        _("program account number"), max_length=15, unique=True, validators=[validate_program_account_number]
    )
    name = models.CharField(_("label"), max_length=100, blank=True)
    activity = models.CharField(_("activity"), max_length=10, choices=Activity.choices, default=Activity.IMPORTER)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    rpp_status = models.CharField(
        _("RPP status"), max_length=15, choices=RppStatus.choices, default=RppStatus.NOT_ENROLLED
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["number"]
        verbose_name = _("program account")
        verbose_name_plural = _("program accounts")

    def __str__(self) -> str:
        return f"{self.number} {self.name}".strip()

    @property
    def is_importer_account(self) -> bool:
        return self.activity == self.Activity.IMPORTER

    def clean(self) -> None:
        self.number = normalize_bn(self.number)
        if self.business_id and self.number[:9] != self.business.bn9:
            raise ValidationError({"number": _("The program account must start with the business's BN9.")})


class Membership(models.Model):
    """A user's role in a business: BAM (whole business), PAM (one RM), Editor or Reader."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending approval")
        ACTIVE = "active", _("Active")
        REJECTED = "rejected", _("Rejected")
        REMOVED = "removed", _("Removed")

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("user"))
    business = models.ForeignKey(
        Business, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("business")
    )
    program_account = models.ForeignKey(
        ProgramAccount, on_delete=models.CASCADE, null=True, blank=True, related_name="memberships",
        verbose_name=_("program account"), help_text=_("Empty: the whole business."),
    )
    role = models.CharField(_("role"), max_length=10, choices=Role.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    requested_at = models.DateTimeField(_("requested"), default=timezone.now)
    decided_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("decided by")
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)

    class Meta:
        ordering = ["business__legal_name", "user__email"]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "business"], condition=Q(status__in=["pending", "active"]),
                name="one_open_membership_per_user_and_business",
            ),
            models.CheckConstraint(
                name="bam_is_business_wide_pam_has_account",
                condition=(Q(role="bam", program_account__isnull=True) | ~Q(role="bam"))
                & (Q(role="pam", program_account__isnull=False) | ~Q(role="pam")),
            ),
        ]
        indexes = [models.Index(fields=["user", "status"])]

    def __str__(self) -> str:
        where = self.program_account.number if self.program_account_id else self.business.display_name
        return f"{self.user.email}: {self.get_role_display()} @ {where} ({self.status})"


class Delegation(models.Model):
    """An importer's grant to a customs broker firm to act on its accounts, within scopes and dates."""

    class Coverage(models.TextChoices):
        BUSINESS = "business", _("Business management (all RM accounts)")
        PROGRAM = "program", _("Program management (chosen RM accounts)")

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        ACTIVE = "active", _("Active")
        REJECTED = "rejected", _("Rejected")
        REVOKED = "revoked", _("Revoked")

    importer = models.ForeignKey(
        Business, on_delete=models.CASCADE, related_name="delegations_granted", verbose_name=_("importer")
    )
    broker = models.ForeignKey(
        Business, on_delete=models.CASCADE, related_name="delegations_held", verbose_name=_("broker")
    )
    coverage = models.CharField(_("coverage"), max_length=10, choices=Coverage.choices, default=Coverage.BUSINESS)
    program_accounts = models.ManyToManyField(
        ProgramAccount, blank=True, related_name="delegations", verbose_name=_("program accounts")
    )
    scope_financial = models.BooleanField(_("financial (statements, payments, offsets)"), default=True)
    scope_cad_submit = models.BooleanField(_("submit CADs"), default=True)
    scope_adjust = models.BooleanField(_("corrections and adjustments"), default=True)
    scope_appeals = models.BooleanField(_("appeals"), default=True)
    scope_security = models.BooleanField(_("RPP security"), default=True)
    valid_from = models.DateField(_("valid from"), default=timezone.localdate)
    valid_to = models.DateField(_("valid to"), null=True, blank=True, help_text=_("Empty: until revoked."))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.REQUESTED)
    note = models.CharField(_("note"), max_length=300, blank=True)
    requested_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("requested by")
    )
    requested_at = models.DateTimeField(_("requested"), default=timezone.now)
    decided_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("decided by")
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("revoked by")
    )
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        verbose_name = _("delegation")
        verbose_name_plural = _("delegations")
        constraints = [
            models.UniqueConstraint(
                fields=["importer", "broker"], condition=Q(status__in=["requested", "active"]),
                name="one_open_delegation_per_importer_and_broker",
            ),
            models.CheckConstraint(
                name="delegation_dates_in_order", condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from"))
            ),
        ]
        indexes = [models.Index(fields=["broker", "status"]), models.Index(fields=["importer", "status"])]

    def __str__(self) -> str:
        return f"{self.broker} → {self.importer} ({self.status})"

    @property
    def scopes(self) -> list[str]:
        from .roles import DELEGATION_FLAGS

        return [flag for flag in DELEGATION_FLAGS if getattr(self, f"scope_{flag}")]

    def is_in_force(self, on) -> bool:
        return (
            self.status == self.Status.ACTIVE
            and self.valid_from <= on
            and (self.valid_to is None or self.valid_to >= on)
        )


class ClientGroup(models.Model):
    """A broker firm's grouping of clients, to which its BAM assigns employees."""

    broker = models.ForeignKey(
        Business, on_delete=models.CASCADE, related_name="client_groups", verbose_name=_("broker")
    )
    name = models.CharField(_("name"), max_length=100)
    clients = models.ManyToManyField(Business, blank=True, related_name="client_groups_in", verbose_name=_("clients"))
    members = models.ManyToManyField(User, blank=True, related_name="client_groups", verbose_name=_("members"))

    class Meta:
        ordering = ["name"]
        verbose_name = _("client group")
        verbose_name_plural = _("client groups")
        constraints = [models.UniqueConstraint(fields=["broker", "name"], name="unique_client_group_name")]

    def __str__(self) -> str:
        return f"{self.broker}: {self.name}"


class AuditEvent(models.Model):
    """Append-only record of who did what, acting for which importer, and what changed."""

    created_at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("actor")
    )
    acting_for = models.ForeignKey(
        Business, on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_events",
        verbose_name=_("acting for"),
    )
    action = models.CharField(_("action"), max_length=80, db_index=True)
    target_type = models.CharField(_("object type"), max_length=80, blank=True)
    target_id = models.CharField(_("object id"), max_length=40, blank=True)
    target_repr = models.CharField(_("object"), max_length=200, blank=True)
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        # Append-only in PostgreSQL, like the ledger. Only the links to a deleted user or business may
        # change (on_delete=SET_NULL); the record of what happened never does.
        triggers = [
            pgtrigger.Protect(name="audit_event_no_delete", operation=pgtrigger.Delete),
            pgtrigger.Protect(name="audit_event_no_update", operation=pgtrigger.Update,
                              condition=pgtrigger.AnyChange(exclude=["actor", "acting_for"])),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.target_repr}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValidationError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("Audit events are append-only.")


# --- Deadline centre: the calendar feed, email preferences, notices sent (accounts/deadlines.py,
# accounts/notifications.py) ---------------------------------------------------------------------

class CalendarFeed(models.Model):
    """A user's secret ICS feed URL. Regenerating revokes the old token; a revoked token answers 404."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="calendar_feeds", verbose_name=_("user"))
    token = models.CharField(_("token"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("calendar feed")
        verbose_name_plural = _("calendar feeds")
        constraints = [
            models.UniqueConstraint(fields=["user"], condition=Q(revoked_at__isnull=True), name="one_live_calendar_feed"),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({'revoked' if self.revoked_at else 'live'})"


class NotificationPreference(models.Model):
    """Which email notices a user wants (every notice on by default)."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="notification_preference",
                                verbose_name=_("user"))
    statement_issued = models.BooleanField(_("a statement is issued"), default=True)
    due_soon = models.BooleanField(_("a payment is due in 3 business days"), default=True)
    overdue = models.BooleanField(_("an amount is overdue"), default=True)
    cad_late = models.BooleanField(_("a CAD is late"), default=True)
    delegation_requested = models.BooleanField(_("a delegation is requested"), default=True)
    delegation_approved = models.BooleanField(_("a delegation is approved"), default=True)
    delegation_expiring = models.BooleanField(_("a delegation is about to expire"), default=True)
    appeal_decided = models.BooleanField(_("an appeal is decided"), default=True)

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")

    def __str__(self) -> str:
        return str(self.user)


class SentNotice(models.Model):
    """One email notice sent: the unique key (user, notice, object, date) makes every notice go once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sent_notices", verbose_name=_("user"))
    notice = models.CharField(_("notice"), max_length=30)
    ref = models.CharField(_("object"), max_length=80)
    on = models.DateField(_("date"))
    sent_at = models.DateTimeField(_("sent"), default=timezone.now)

    class Meta:
        ordering = ["-sent_at", "-id"]
        verbose_name = _("notice sent")
        verbose_name_plural = _("notices sent")
        constraints = [
            models.UniqueConstraint(fields=["user", "notice", "ref", "on"], name="sent_notice_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.notice} {self.ref} {self.on}"
