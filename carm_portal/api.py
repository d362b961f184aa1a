"""API plumbing shared by every app: the exception handler and the scope-aware base viewset."""

import copy

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import exception_handler as drf_exception_handler

from .exceptions import ApplicationError


def exception_handler(exc, context):
    """Business-rule errors answer 400 with field messages; Django errors map onto DRF's."""
    if isinstance(exc, ApplicationError):
        body = {"detail": exc.message}
        body.update(exc.field_errors)
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "message_dict"):
            exc = exceptions.ValidationError(exc.message_dict)
        else:
            exc = exceptions.ValidationError({"detail": exc.messages})
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    return drf_exception_handler(exc, context)


class FieldsBuiltOnce:
    """For an output-only ModelSerializer: its fields are built from the model once per class, then
    each serializer gets copies. DRF introspects the model again for every instance (a filed CAD's
    response, with its lines and versions, spent ~25 ms there). Only for serializers whose fields do
    not depend on the request (no ``context`` or ``__init__`` arguments shaping them).

    A plain field is copied shallowly: the cached ones are never bound (binding sets the copy's own
    name and parent) and an output field's shared parts (validators, messages) are only read. DRF's
    deep copy rebuilds every field from its arguments, ~3.5 ms of a filed CAD's response. A nested
    serializer is deep-copied: it holds its own bound fields once used."""

    def get_fields(self):
        cls = type(self)
        built = cls.__dict__.get("_fields_built_once")
        if built is None:
            built = super().get_fields()
            cls._fields_built_once = built
        return {name: copy.deepcopy(f) if isinstance(f, BaseSerializer) else copy.copy(f)
                for name, f in built.items()}
