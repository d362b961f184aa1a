"""CAD pages, mounted at /declarations/."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.cad_list, name="cad_list"),
    path("new/", views.cad_create, name="cad_create"),
    path("calculate/", views.cad_calculate, name="cad_calculate"),
    path("upload/", views.cad_upload, name="cad_upload"),
    path("upload/history/", views.cad_upload_history, name="cad_upload_history"),
    path("upload/<str:upload_id>/", views.cad_upload_status, name="cad_upload_status"),
    path("upload/<str:upload_id>/progress/", views.cad_upload_progress, name="cad_upload_progress"),
    path("<int:pk>/", views.cad_detail, name="cad_detail"),
    path("<int:pk>/pdf/", views.cad_pdf, name="cad_pdf"),
    path("<int:pk>/edit/", views.cad_edit, name="cad_edit"),
    path("<int:pk>/submit/", views.cad_submit, name="cad_submit"),
    path("<int:pk>/amend/", views.cad_amend, name="cad_amend"),
    path("<int:pk>/withdraw/", views.cad_withdraw, name="cad_withdraw"),
]
