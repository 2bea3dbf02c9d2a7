"""Access checks for staff pages, shared by every app."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied


def _staff_required(perms, combine):
    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not user.is_staff or not combine(user.has_perm(perm) for perm in perms):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def staff_permission_required(*perms):
    """Anonymous → the login page; signed in without every permission → 403."""
    return _staff_required(perms, all)


def staff_any_permission_required(*perms):
    """Like ``staff_permission_required``, but one of the permissions is enough (a page shared by roles)."""
    return _staff_required(perms, any)
