"""A URLconf with one view that fails holding secrets, for the debug page's test."""

from django.http import HttpRequest, HttpResponse
from django.urls import path


def boom(request: HttpRequest) -> HttpResponse:
    from tests.reliability.test_secrets import _fail_connecting

    _fail_connecting()
    return HttpResponse("unreachable")


urlpatterns = [path("boom/", boom)]
