"""Cursor pagination for the app's lists: newest first, keyset on the primary key.

A cursor is opaque to the app (base64 of the last id seen); the next page costs the
same as the first, whatever the list's length.
"""

import base64
import binascii

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers, status

from api.problems import Problem

PAGE_SIZE = 20
ERR_CURSOR = _("This cursor is not valid. Start again from the first page.")
CURSOR_PARAMETER = OpenApiParameter(
    "cursor", str, OpenApiParameter.QUERY, required=False, description="The `next` of the previous page."
)


def encode_cursor(pk: int | None) -> str | None:
    return base64.urlsafe_b64encode(str(pk).encode()).decode().rstrip("=") if pk else None


def decode_cursor(request) -> int | None:
    raw = request.query_params.get("cursor", "")
    if not raw:
        return None
    try:
        value = int(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise Problem(status_code=status.HTTP_400_BAD_REQUEST, code="cursor_invalid", detail=ERR_CURSOR) from error
    if value < 1:
        raise Problem(status_code=status.HTTP_400_BAD_REQUEST, code="cursor_invalid", detail=ERR_CURSOR)
    return value


def keyset_page(queryset, request, size: int = PAGE_SIZE):
    """One page of ``queryset`` newest (highest id) first, and the cursor of the next page."""
    before = decode_cursor(request)
    if before:
        queryset = queryset.filter(pk__lt=before)
    rows = list(queryset.order_by("-pk")[: size + 1])
    next_pk = rows[size - 1].pk if len(rows) > size else None
    return rows[:size], encode_cursor(next_pk)


def paged(item_serializer):
    """The response shape of a paged list of ``item_serializer``."""
    name = item_serializer.__name__.removesuffix("Serializer") + "Page"
    return type(
        name,
        (serializers.Serializer,),
        {
            "results": item_serializer(many=True),
            "next": serializers.CharField(allow_null=True, help_text="Cursor of the next page; null on the last."),
        },
    )
