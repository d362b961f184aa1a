from django.urls import path

from . import views

app_name = "appeals"

urlpatterns = [
    path("", views.appeal_list, name="list"),
    path("new/", views.appeal_new, name="new"),
    path("<int:pk>/", views.appeal_detail, name="detail"),
    path("<int:pk>/save/", views.appeal_save, name="save"),
    path("<int:pk>/submit/", views.appeal_submit, name="submit"),
    path("<int:pk>/withdraw/", views.appeal_withdraw, name="withdraw"),
    path("<int:pk>/documents/", views.document_upload, name="document-upload"),
    path("<int:pk>/letter/", views.letter_download, name="letter"),
    path("documents/<int:pk>/", views.document_download, name="document"),
    path("penalties/<int:pk>/", views.penalty_detail, name="penalty"),
    path("extensions/new/", views.extension_new, name="extension-new"),
    path("review/", views.review_queue, name="review"),
    path("review/<int:pk>/", views.review_action, name="review-action"),
    path("review/extensions/<int:pk>/", views.extension_decide, name="extension-decide"),
]
