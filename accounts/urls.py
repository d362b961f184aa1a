from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("business/", views.business, name="business"),
    path("users/", views.users, name="users"),
    path("delegations/", views.delegations, name="delegations"),
]
