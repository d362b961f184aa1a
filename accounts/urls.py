from django.contrib.auth import views as auth_views
from django.urls import path

from . import deadline_views, views
from .forms import LoginForm

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    # Authentication (Django's views, our templates in templates/registration/).
    path("login/", auth_views.LoginView.as_view(authentication_form=LoginForm, redirect_authenticated_user=True),
         name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("password/change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("password/reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path("password/reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("password/reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(),
         name="password_reset_confirm"),
    path("password/reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    # Acting for an importer.
    path("switch-account/", views.switch_account, name="switch-account"),
    # Business profile, registration, joining.
    path("business/", views.business, name="business"),
    path("business/edit/", views.business_edit, name="business-edit"),
    path("business/register/", views.business_register, name="business-register"),
    path("business/join/", views.membership_request, name="membership-request"),
    # Users and roles.
    path("users/", views.users, name="users"),
    path("users/<int:pk>/decide/", views.membership_decide, name="membership-decide"),
    path("users/<int:pk>/role/", views.membership_edit, name="membership-edit"),
    path("users/<int:pk>/remove/", views.membership_remove, name="membership-remove"),
    # Delegations and broker client groups.
    path("delegations/", views.delegations, name="delegations"),
    path("delegations/grant/", views.delegation_grant, name="delegation-grant"),
    path("delegations/request/", views.delegation_request, name="delegation-request"),
    path("delegations/<int:pk>/decide/", views.delegation_decide, name="delegation-decide"),
    path("delegations/<int:pk>/revoke/", views.delegation_revoke, name="delegation-revoke"),
    path("delegations/<int:pk>/edit/", views.delegation_edit, name="delegation-edit"),
    path("delegations/groups/new/", views.client_group_edit, name="client-group-create"),
    path("delegations/groups/<int:pk>/", views.client_group_edit, name="client-group-edit"),
    # Audit trail.
    path("audit/", views.audit, name="audit"),

    path("deadlines/", deadline_views.deadline_centre, name="deadlines"),
    path("deadlines/calendar/", deadline_views.feed_token, name="deadline-feed-token"),
    path("deadlines/preferences/", deadline_views.preferences, name="deadline-preferences"),
    path("deadlines/feed/<str:token>.ics", deadline_views.feed, name="deadline-feed"),
]
