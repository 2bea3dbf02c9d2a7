"""Admin helpers for large tables: estimated counts on PostgreSQL, CSV export of a changelist."""

import csv
import json

from django.contrib import admin
from django.contrib.admin.utils import label_for_field, lookup_field
from django.core.paginator import Paginator
from django.db import connections
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

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


@admin.action(description=_("Export the selected rows as CSV"))
def export_as_csv(modeladmin, request, queryset):
    """Stream the rows (as the changelist shows them) as CSV; masked fields stay masked."""
    fields = [name for name in modeladmin.get_list_display(request) if name != "action_checkbox"]
    writer = csv.writer(_Echo())

    def rows():
        # The changelist's own column labels and cell lookup (model fields, admin methods, ``__str__``).
        yield writer.writerow([str(label_for_field(name, modeladmin.model, modeladmin)) for name in fields])
        for obj in queryset.iterator(chunk_size=2000):
            yield writer.writerow([_cell(modeladmin, obj, name) for name in fields])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="{modeladmin.model._meta.model_name}-{stamp}.csv"'
    return response


def _cell(modeladmin, obj, name):
    field, _attr, value = lookup_field(name, obj, modeladmin)
    if field is not None and getattr(field, "flatchoices", None):
        return str(dict(field.flatchoices).get(value, value))
    return "" if value is None else value


class LargeTableAdmin(admin.ModelAdmin):
    """Defaults for changelists over big tables: no full counts, estimated paging, CSV export."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    actions = [export_as_csv]
    list_per_page = 50
