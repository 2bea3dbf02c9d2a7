from django.contrib import admin
from django.db.models import Prefetch
from django.utils.translation import gettext_lazy as _

from accounts.admin import ReadOnlyAdmin
from heyon_site.admin_tools import LargeTableAdmin, ServicePointScopedMixin, export_as_csv
from reviews import pii, selectors, services
from reviews.models import (
    CalendarDay,
    Certificate,
    DraftPhoto,
    PhotoAccess,
    QualitySample,
    ReasonCode,
    Submission,
    SubmissionEvent,
    SubmissionPhoto,
)


@admin.register(ReasonCode)
class ReasonCodeAdmin(admin.ModelAdmin):
    list_display = ["code", "label_zh", "kind", "is_active", "sort_order"]
    list_filter = ["kind", "is_active"]
    search_fields = ["code", "label_zh", "customer_text_zh", "customer_text_en"]
    list_editable = ["is_active", "sort_order"]

    def has_delete_permission(self, request, obj=None):
        # Decisions refer to reason codes; retire a code by making it inactive.
        return False


class SubmissionPhotoInline(admin.TabularInline):
    model = SubmissionPhoto
    fields = ["kind", "width", "height", "original_format", "hints"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class SubmissionEventInline(admin.TabularInline):
    model = SubmissionEvent
    fields = ["created_at", "actor", "verb", "from_status", "to_status", "reason_codes", "internal_note"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Submission)
class SubmissionAdmin(LargeTableAdmin):
    """Submissions are read here; decisions are made in /staff/reviews/ through the services."""

    list_display = ["pk", "user", "status", "channel", "attempt_number", "id_number_masked", "submitted_at", "due_at"]
    list_filter = ["status", "channel", "is_flagged"]
    list_select_related = ["user"]
    search_fields = ["=user__phone", "=pk"]
    search_help_text = _(
        "A mobile number, a submission number, a whole ID number or a whole name (found exactly, through their "
        "indexes)."
    )
    # The export adds who decided, when and why; the name stays masked, as the ID number does.
    csv_fields = [
        "pk",
        "user",
        "status",
        "channel",
        "attempt_number",
        "masked_name",
        "id_number_masked",
        "submitted_at",
        "due_at",
        "decided_at",
        "decided_by",
        "reason_codes",
        "is_flagged",
    ]
    raw_id_fields = ["user"]
    inlines = [SubmissionPhotoInline, SubmissionEventInline]
    actions = [export_as_csv, "lift_final_rejection"]
    readonly_fields = [
        "user",
        "channel",
        "status",
        "attempt_number",
        "full_name",
        "id_number_masked",
        "contact_phone",
        "submitted_at",
        "due_at",
        "claimed_by",
        "claim_expires_at",
        "decided_by",
        "decided_at",
        "reasons",
        "customer_message",
        "internal_note",
        "flags",
        "is_flagged",
        "final_block_lifted_at",
        "escalated_at",
        "escalated_by",
        "escalation_note",
        "revoked_at",
        "revoked_by",
        "service_point",
        "final_rejection_proposed_at",
        "final_rejection_proposed_by",
        "final_rejection_proposal",
    ]
    exclude = ["id_number_encrypted", "id_number_index"]

    def get_queryset(self, request):
        # An escalated submission is for senior reviewers only, here as on the review screen.
        # Support still finds one to lift its final rejection (support reviews nothing and
        # sees no photo).
        queryset = super().get_queryset(request)
        if self.has_lift_permission(request):
            return queryset
        return selectors.submissions_openable_by(viewer=request.user, queryset=queryset)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def search_conditions(self, request, term):
        """Also every attempt with a whole ID number or a whole name, through their blind indexes.

        Masked ID numbers collide, and a name is matched whole and exactly (spaces, middle dots and
        case aside): the index is a keyed hash, so no part of a name finds anything.
        """
        conditions = super().search_conditions(request, term)
        id_number = pii.normalize_id_number(term)
        if pii.ID_NUMBER_SHAPE.fullmatch(id_number):
            conditions.append(("id_number_index__in", {pii.id_number_blind_index(id_number)}))
        elif name_index := pii.name_blind_index(term):
            conditions.append(("full_name_index__in", {name_index}))
        return conditions

    def csv_queryset(self, queryset):
        return queryset.select_related("user", "decided_by").prefetch_related(
            Prefetch("reasons", queryset=ReasonCode.objects.only("pk", "code"))
        )

    @admin.display(description=_("full name"))
    def masked_name(self, obj):
        return pii.mask_name(obj.full_name)

    @admin.display(description=_("reasons"))
    def reason_codes(self, obj):
        return " ".join(sorted(reason.code for reason in obj.reasons.all()))

    @admin.action(description=_("Lift the final rejection (the customer may submit again)"), permissions=["lift"])
    def lift_final_rejection(self, request, queryset):
        lifted = 0
        for submission_id in queryset.values_list("pk", flat=True):
            try:
                services.submission_lift_final_block(
                    submission_id=submission_id, actor=request.user, note=str(_("Lifted in admin"))
                )
                lifted += 1
            except services.ReviewError as error:
                self.message_user(request, f"#{submission_id}: {error}", level="warning")
        self.message_user(request, _("%(n)s rejection(s) lifted.") % {"n": lifted})

    def has_lift_permission(self, request):
        return request.user.has_perm("reviews.lift_final_rejection")


@admin.register(SubmissionEvent)
class SubmissionEventAdmin(ReadOnlyAdmin):
    # Newest first by id; the model's (created_at, pk) order would sort the whole table.
    ordering = ["-pk"]
    list_display = ["created_at", "submission_id", "actor", "verb", "from_status", "to_status", "reason_codes"]
    list_select_related = ["actor"]
    search_fields = ["=submission__id", "=verb"]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.has_perm("reviews.lift_final_rejection"):
            return queryset  # support, as in the submission admin
        return queryset.filter(submission__in=selectors.submissions_openable_by(viewer=request.user))


@admin.register(QualitySample)
class QualitySampleAdmin(ReadOnlyAdmin):
    """Read here; checked on /staff/reviews/samples/ through the services."""

    list_display = ["sampled_at", "submission_id", "decision", "decided_by", "status", "checked_by", "checked_at"]
    list_filter = ["status", "decision"]
    list_select_related = ["decided_by", "checked_by"]
    search_fields = ["=submission__id", "=decided_by__username"]


@admin.register(DraftPhoto)
class DraftPhotoAdmin(ReadOnlyAdmin):
    """Photos kept for forms not submitted yet: who and when only; the photos are never shown here."""

    list_display = ["created_at", "user_id", "clerk_id", "line_id", "kind", "expires_at"]
    fields = ["user_id", "clerk_id", "line_id", "kind", "created_at", "expires_at"]
    readonly_fields = fields
    search_fields = ["=user__id", "=clerk__username", "=line__msisdn"]
    ordering = ["-pk"]


@admin.register(PhotoAccess)
class PhotoAccessAdmin(ReadOnlyAdmin):
    list_display = ["accessed_at", "staff", "submission_id_copy", "photo_id", "variant", "ip_address"]
    list_select_related = ["staff"]
    search_fields = ["=staff__username", "=submission_id_copy"]


@admin.register(Certificate)
class CertificateAdmin(ServicePointScopedMixin, ReadOnlyAdmin):
    service_point_path = "service_point"
    list_display = ["number", "service_point", "line", "holder_name_masked", "issued_by", "issued_at"]
    list_filter = ["service_point"]
    list_select_related = ["service_point", "line", "issued_by"]
    search_fields = ["=number", "=line__msisdn"]


@admin.register(CalendarDay)
class CalendarDayAdmin(admin.ModelAdmin):
    list_display = ["date", "kind", "name"]
    list_filter = ["kind"]
    date_hierarchy = "date"
    search_fields = ["name"]
