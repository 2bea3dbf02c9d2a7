from django.contrib import admin

from accounts.admin import ReadOnlyAdmin
from customers.models import CancellationRequest, SupportThread


@admin.register(CancellationRequest)
class CancellationRequestAdmin(ReadOnlyAdmin):
    """Decided in /staff/cancellations/ through the services; read here."""

    list_display = ["pk", "line", "user", "status", "reason", "created_at", "decided_by", "decided_at"]
    list_filter = ["status", "reason"]
    list_select_related = ["line", "user", "decided_by"]
    search_fields = ["=line__msisdn", "=user__phone"]


@admin.register(SupportThread)
class SupportThreadAdmin(ReadOnlyAdmin):
    list_display = ["pk", "customer", "topic", "status", "assignee", "waiting_since", "last_message_at"]
    list_filter = ["status", "topic"]
    list_select_related = ["customer", "assignee"]
    search_fields = ["=customer__phone"]
