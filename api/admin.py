"""The API's tables in the admin: simplejwt's outstanding tokens without their text, and the app's sign-ins.

simplejwt registers its own admin, which shows each outstanding refresh token in full: a
live one is a customer's credential (whoever holds it gets their account through the app
for up to 30 days). Staff see who holds a token and until when, never the token, and
cannot narrow the list by its text either.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from rest_framework_simplejwt.token_blacklist import admin as token_admin
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts.admin import ReadOnlyAdmin
from api import tokens
from api.models import RefreshFamily

HIDDEN_FIELD = "token"


class OutstandingTokenAdmin(token_admin.OutstandingTokenAdmin):
    exclude = (HIDDEN_FIELD,)

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return [name for name in super().get_readonly_fields(request, obj) if name != HIDDEN_FIELD]

    def lookup_allowed(self, lookup, value, request=None) -> bool:
        # ?token__startswith=… would reveal a token a character at a time.
        return lookup.split("__", 1)[0] != HIDDEN_FIELD and super().lookup_allowed(lookup, value, request)


admin.site.unregister(OutstandingToken)
admin.site.register(OutstandingToken, OutstandingTokenAdmin)


@admin.register(RefreshFamily)
class RefreshFamilyAdmin(ReadOnlyAdmin):
    """The app's sign-ins: whose, since when, until when, ended when and why. A row holds no token.

    Seen, like the tokens, by administrators only (no other role has the model's
    permissions). An administrator signs a lost or stolen phone out with the action, which
    ends the sign-in through ``api.tokens.refresh_family_end`` (audited).
    """

    list_display = ["user", "created_at", "expires_at", "ended_at", "end_reason"]
    list_filter = ["end_reason", ("ended_at", admin.EmptyFieldListFilter)]
    list_select_related = ["user"]
    search_fields = ["=user__phone"]
    ordering = ["-created_at"]
    fields = ["id", "user", "created_at", "expires_at", "ended_at", "end_reason"]
    readonly_fields = fields
    actions = [*ReadOnlyAdmin.actions, "end_sign_ins"]

    @admin.action(description=_("End the selected sign-ins (sign the device out)"), permissions=["end"])
    def end_sign_ins(self, request, queryset):
        ended = sum(
            tokens.refresh_family_end(family_id=family_id, actor=request.user)
            for family_id in queryset.filter(ended_at__isnull=True).values_list("pk", flat=True)
        )
        self.message_user(request, ngettext("%(n)s sign-in ended.", "%(n)s sign-ins ended.", ended) % {"n": ended})

    def has_end_permission(self, request) -> bool:
        return request.user.has_perm("api.change_refreshfamily")
