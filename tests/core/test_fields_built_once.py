"""carm_portal.api.FieldsBuiltOnce: fields built once per class, each serializer with its own bound copies."""

from rest_framework import serializers

from declarations.serializers import CadDetailSerializer, CadLineSerializer


def test_each_serializer_binds_its_own_copies_and_the_class_cache_stays_unbound():
    first, second = CadDetailSerializer(), CadDetailSerializer()
    a, b = first.fields, second.fields
    assert list(a) == list(b)
    for name in a:
        assert a[name] is not b[name], name
        assert a[name].parent is first and b[name].parent is second, name
    cached = CadDetailSerializer.__dict__["_fields_built_once"]
    assert all(getattr(field, "parent", None) is None for field in cached.values())
    # A nested serializer is a copy of its own, with its own child.
    assert isinstance(a["lines"], serializers.ListSerializer)
    assert a["lines"].child is not b["lines"].child


def test_the_copies_equal_what_drf_builds_from_the_model():
    built = CadLineSerializer().fields
    # What DRF builds without the cache (ModelSerializer.get_fields on a fresh subclass).
    plain = type("Plain", (serializers.ModelSerializer,), {
        "Meta": CadLineSerializer.Meta,
        **CadLineSerializer._declared_fields,
    })().fields
    assert list(built) == list(plain)
    for name in built:
        assert type(built[name]) is type(plain[name]), name
        assert built[name].source == plain[name].source, name
        assert built[name].read_only and plain[name].read_only, name
