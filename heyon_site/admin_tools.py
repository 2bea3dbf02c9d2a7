"""Admin helpers: estimated counts on PostgreSQL, CSV export of a changelist, store staff scoped to their store."""

import csv
import json
import re
from datetime import datetime
from decimal import Decimal

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import NotRelationField, get_fields_from_path, label_for_field, lookup_field
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import IntegerField, Q, QuerySet, Value
from django.http import StreamingHttpResponse
from django.urls import path
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from heyon_site.security import is_store_staff

ESTIMATE_ABOVE = 10_000


class EstimatedCountPaginator(Paginator):
    """Counts exactly up to ESTIMATE_ABOVE rows; past that, asks PostgreSQL's planner.

    An exact COUNT(*) of a million rows on every changelist view costs more than the
    page itself; an estimate (EXPLAIN's row count) is enough to page through.
    """

    @cached_property
    def count(self):
        queryset = self.object_list
        connection = connections[queryset.db]
        if connection.vendor != "postgresql":
            return super().count
        # A bounded exact count: cheap for small results, and tells us when to estimate.
        bounded = queryset.order_by()[: ESTIMATE_ABOVE + 1].count()
        if bounded <= ESTIMATE_ABOVE:
            return bounded
        sql, params = queryset.order_by().query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
            plan = cursor.fetchone()[0]
        if isinstance(plan, str):
            plan = json.loads(plan)
        return max(int(plan[0]["Plan"]["Plan Rows"]), bounded)


class _Echo:
    def write(self, value):
        return value


# Excel (in Chinese Windows especially) reads a CSV without a byte-order mark in the local code
# page and garbles every Chinese character; with it, as UTF-8.
CSV_BYTE_ORDER_MARK = "\ufeff"
CSV_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


class CsvExportMixin:
    """Offer the CSV export to administrators only: an export is personal data in bulk leaving
    the system, which a reviewer or clerk who may read one record at a time need not do.

    Two ways out: the "Export the selected rows" action, and a link above the changelist that
    streams every row its filters and search select (``export/?<the changelist's query>``).
    ``csv_fields`` names the columns (default: the changelist's); ``csv_queryset`` may add the
    joins they read.
    """

    csv_fields: list[str] | None = None
    change_list_template = "admin/csv_export_change_list.html"

    def has_export_permission(self, request):
        return request.user.is_superuser

    def get_csv_fields(self, request) -> list[str]:
        if self.csv_fields is not None:
            return list(self.csv_fields)
        return [name for name in self.get_list_display(request) if name != "action_checkbox"]

    def csv_queryset(self, queryset):
        return queryset

    def get_urls(self):
        name = f"{self.model._meta.app_label}_{self.model._meta.model_name}_export"
        export = path("export/", self.admin_site.admin_view(self.export_filtered_view), name=name)
        return [export, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_export_csv": self.has_export_permission(request)}
        return super().changelist_view(request, extra_context=extra_context)

    def export_filtered_view(self, request):
        """Stream every row of the changelist as filtered and searched (the query string), not one page."""
        if not (self.has_view_or_change_permission(request) and self.has_export_permission(request)):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters as error:
            raise PermissionDenied from error
        return csv_export_response(self, request, changelist.queryset)


def csv_export_response(modeladmin, request, queryset) -> StreamingHttpResponse:
    """Stream ``queryset`` as CSV: a byte-order mark, the columns' labels, one line per row, read in chunks."""
    fields = (
        modeladmin.get_csv_fields(request)
        if hasattr(modeladmin, "get_csv_fields")
        else [name for name in modeladmin.get_list_display(request) if name != "action_checkbox"]
    )
    if hasattr(modeladmin, "csv_queryset"):
        queryset = modeladmin.csv_queryset(queryset)
    writer = csv.writer(_Echo())

    def rows():
        yield CSV_BYTE_ORDER_MARK
        # The changelist's own column labels and cell lookup (model fields, admin methods, ``__str__``).
        labels = [str(label_for_field(name, modeladmin.model, modeladmin)) for name in fields]
        yield writer.writerow([neutralise_cell(label) for label in labels])
        for obj in queryset.iterator(chunk_size=2000):
            yield writer.writerow([neutralise_cell(_cell(modeladmin, obj, name)) for name in fields])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="{modeladmin.model._meta.model_name}-{stamp}.csv"'
    return response


@admin.action(description=_("Export the selected rows as CSV"), permissions=["export"])
def export_as_csv(modeladmin, request, queryset):
    """Stream the rows (as the changelist shows them) as CSV; masked fields stay masked."""
    return csv_export_response(modeladmin, request, queryset)


# A cell a spreadsheet reads as a formula (OWASP "CSV injection"): =, +, -, @, or a tab or line
# break before one. Leading spaces are looked past: some spreadsheets trim them on import.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
# A text cell that is only a signed number ("+8613800138000", "-30.00") is no formula a
# spreadsheet can run; it keeps its sign rather than gaining a quote.
PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")


def neutralise_cell(value):
    """The value as a CSV cell no spreadsheet runs as a formula.

    Numbers (a model's integer or decimal column, such as a refund's negative amount) are
    written as they are. Text that would start a formula is prefixed with a single quote,
    which spreadsheets show as text, unless it is only a signed number.
    """
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return value
    text = str(value)
    if text.lstrip(" ").startswith(FORMULA_STARTS) and not PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def _cell(modeladmin, obj, name):
    field, _attr, value = lookup_field(name, obj, modeladmin)
    if field is not None and getattr(field, "flatchoices", None):
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, datetime):
        # The site's local time (Asia/Shanghai), to the second: what staff read on every page.
        return (
            timezone.localtime(value).strftime(CSV_TIME_FORMAT)
            if timezone.is_aware(value)
            else value.strftime(CSV_TIME_FORMAT)
        )
    return "" if value is None else value


class ServicePointScopedMixin:
    """Store staff see in admin only the rows their own service point produced.

    ``service_point_path`` names the row's service point (``"service_point"``,
    ``"order__service_point"``); None means the rows belong to no store (a wallet, a
    usage record), and store staff see none of them even if granted the view permission.
    A row of another store is then neither listed nor opened (admin answers it as missing);
    administrators and staff of no store (support) see every row.
    """

    service_point_path: str | None = None

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        user = request.user
        if not is_store_staff(user):
            return queryset
        if self.service_point_path is None or user.service_point_id is None:
            return queryset.none()
        return queryset.filter(**{f"{self.service_point_path}_id": user.service_point_id})


def _exact_match(model, path: str, term: str):
    """``(lookup, values)`` such that ``model.objects.filter(**{lookup: values})`` finds ``path`` equal to ``term``.

    ``values`` is a set, or for a related field a queryset of the ids to match (``user_id IN ids of the users
    whose phone = …``), to be read first; None if ``term`` cannot be a value of the field.
    """
    pieces = [
        model._meta.pk.name if piece == "pk" and not index else piece for index, piece in enumerate(path.split("__"))
    ]
    try:
        chain = get_fields_from_path(model, "__".join(pieces))
    except (FieldDoesNotExist, NotRelationField):
        return None
    field = chain[-1]
    if field.is_relation:
        field = field.target_field
    try:
        value = field.to_python(term)
        field.get_prep_value(value)
    except (ValidationError, ValueError, TypeError, OverflowError):
        return None
    if value in (None, "") or (hasattr(value, "is_valid") and not value.is_valid()):
        return None  # not a value this field can hold (a word for an id, a malformed phone number)
    values = {value, value.upper(), value.lower()} if isinstance(value, str) else {value}
    if len(chain) == 1:
        return f"{pieces[0]}__in", values
    first, rest = chain[0], "__".join(pieces[1:])
    if first.many_to_one and len(chain) == 2 and chain[1] == first.target_field:
        return f"{first.attname}__in", values
    related = first.related_model._default_manager.filter(**{f"{rest}__in": values}).order_by()
    if first.many_to_one or (first.one_to_one and first.concrete):
        return f"{first.attname}__in", related.values_list("pk", flat=True)
    if first.one_to_many or first.one_to_one:
        return "pk__in", related.values_list(first.field.attname, flat=True)
    return None


class ExactSearchMixin:
    """Search a large table through its indexes when every search field is an exact one (``=field``).

    Django reads ``=field`` as ``field__iexact``: ``UPPER(column) = UPPER(term)``, which no plain
    index serves, and it ORs the fields across joins; at a million rows either means a full scan.
    Here each field is compared exactly (the term as typed, in upper and in lower case), and a
    field the term cannot be a value of (a word for an id, an invalid phone number) is left out.
    Related fields are read first, all in one query (a UNION of their id lookups), so that the
    changelist's own query is a plain OR of indexed columns of its table: PostgreSQL answers it
    from those indexes, or walks the newest rows when the term is common. (An OR of subqueries
    it can only answer by scanning the table.)
    """

    def search_conditions(self, request, term: str) -> list[tuple]:
        """``(lookup, values)`` per search field the term can match (see _exact_match); subclasses may add."""
        matches = (_exact_match(self.model, name[1:], term) for name in self.get_search_fields(request))
        return [match for match in matches if match is not None]

    def get_search_results(self, request, queryset, search_term):
        fields = self.get_search_fields(request)
        term = search_term.strip()
        if not term or not fields or not all(name.startswith("=") for name in fields):
            return super().get_search_results(request, queryset, search_term)
        conditions = self.search_conditions(request, term)
        # The related lookups, each tagged with its position: (position, id) rows of one UNION ALL.
        tagged = [
            values.annotate(arm=Value(position, output_field=IntegerField())).values_list(
                "arm", *values.query.values_select
            )
            for position, (_lookup, values) in enumerate(conditions)
            if isinstance(values, QuerySet)
        ]
        found = {}
        if tagged:
            for position, pk in tagged[0].union(*tagged[1:], all=True):
                found.setdefault(position, []).append(pk)
        condition, matchable = Q(), False
        for position, (lookup, values) in enumerate(conditions):
            if isinstance(values, QuerySet):
                values = found.get(position, [])
            if values:
                condition |= Q(**{lookup: values})
                matchable = True
        return (queryset.filter(condition) if matchable else queryset.none()), False


class LargeTableAdmin(CsvExportMixin, ExactSearchMixin, admin.ModelAdmin):
    """Defaults for changelists over big tables: no full counts, estimated paging, exact search, CSV export."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    actions = [export_as_csv]
    list_per_page = 50
