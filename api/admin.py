"""The API's tables in the admin: simplejwt's outstanding tokens without their text.

simplejwt registers its own admin, which shows each outstanding refresh token in full: a
live one is a customer's credential (whoever holds it gets their account through the app
for up to 30 days). Staff see who holds a token and until when, never the token, and
cannot narrow the list by its text either.
"""

from django.contrib import admin
from rest_framework_simplejwt.token_blacklist import admin as token_admin
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

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
