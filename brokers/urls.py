from django.urls import path

from . import views

app_name = "brokers"

urlpatterns = [
    path("", views.board, name="board"),
    path("worklists/", views.worklists, name="worklists"),
    path("board.csv", views.board_csv, name="board-csv"),
    path("clients/search/", views.client_search, name="client-search"),
    path("act-for/", views.act_for, name="act-for"),
    path("reminders/", views.remind, name="remind"),
    path("delegations/bulk/", views.bulk_request, name="bulk-request"),
]
