"""RPP security pages, mounted at /security/."""

from django.urls import path

from . import views

app_name = "rpp"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("<int:pk>/", views.account, name="account"),
    path("<int:pk>/enrol/", views.enrol, name="enrol"),
    path("<int:pk>/withdraw/", views.withdraw, name="withdraw"),
    path("<int:pk>/recompute/", views.recompute, name="recompute"),
    path("<int:pk>/estimate/", views.estimate, name="estimate"),
    path("<int:pk>/forecast/", views.forecast, name="forecast"),
    path("<int:pk>/reduction/", views.reduction, name="reduction"),
    path("bonds/new/", views.bond_create, name="bond-create"),
    path("deposits/new/", views.deposit_create, name="deposit-create"),
    path("staff/reductions/", views.staff_reductions, name="staff-reductions"),
    path("staff/reductions/<int:pk>/", views.staff_reduction_decide, name="staff-reduction-decide"),
]
