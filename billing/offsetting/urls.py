"""Browser pages, mounted at /offsetting/ by carm_portal.urls."""

from django.urls import path

from . import views

app_name = "offsetting"

urlpatterns = [
    path("", views.credits_page, name="credits"),
    path("debts/", views.debts_page, name="debts"),
    path("unused/", views.credit_list, name="credit-list"),
    path("history/", views.history, name="history"),
    path("apply/", views.apply_manual, name="apply"),
    path("run/", views.run_now, name="run"),
    path("refunds/request/", views.refund_request, name="refund-request"),
    path("preference/", views.preference, name="preference"),
    path("staff/refunds/", views.staff_refunds, name="staff-refunds"),
    path("staff/refunds/<int:pk>/<slug:decision>/", views.staff_refund_decide, name="staff-refund-decide"),
]
