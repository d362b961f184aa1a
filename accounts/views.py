from django.contrib.auth.decorators import login_required
from django.http import HttpResponse


@login_required
def dashboard(request):
    return HttpResponse("dashboard")


@login_required
def business(request):
    return HttpResponse("business")


@login_required
def users(request):
    return HttpResponse("users")


@login_required
def delegations(request):
    return HttpResponse("delegations")
