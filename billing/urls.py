"""Billing pages, mounted at /billing/ (names are global, prefixed "billing-")."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.statements, name="billing-statements"),
    path("statements/<int:pk>/", views.statement_detail, name="billing-statement-detail"),
    path("statements/<int:pk>/pdf/", views.statement_pdf, name="billing-statement-pdf"),
    path("statements/<int:pk>/csv/", views.statement_csv, name="billing-statement-csv"),
    path("statements/<int:pk>/reconcile/", views.statement_reconcile, name="billing-statement-reconcile"),
    path("reconciliations/<int:pk>/pdf/", views.reconciliation_pdf, name="billing-reconciliation-pdf"),
    path("accounts/<int:account_pk>/reconcile/", views.account_reconcile_latest,
         name="billing-account-reconcile-latest"),
    path("transactions/", views.transactions, name="billing-transactions"),
    path("transactions/csv/", views.transactions_csv, name="billing-transactions-csv"),
    path("payments/", views.payments, name="billing-payments"),
    path("ops/", views.ops, name="billing-ops"),
    path("ops/progress.json", views.ops_progress, name="billing-ops-progress"),
    path("ops/runs/<int:pk>/retry/", views.ops_retry, name="billing-ops-retry"),
]
