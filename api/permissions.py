from rest_framework.permissions import BasePermission


class IsCustomer(BasePermission):
    """A signed-in, active customer. Staff tokens get nothing from the app's API."""

    message = "This API is for customers' own accounts."
    code = "customers_only"

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.is_active and not user.is_staff)
