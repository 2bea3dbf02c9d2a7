from django.conf import settings

from accounts import selectors


def site_chrome(request):
    """Values every page's header and footer need: the unread count and the hotline."""
    user = getattr(request, "user", None)
    unread = 0
    # Staff have no inbox; skipping the count keeps staff list pages at a fixed, small query count.
    if user is not None and user.is_authenticated and not user.is_staff:
        unread = selectors.unread_notification_count(user=user)
    return {
        "unread_notification_count": unread,
        "support_hotline": settings.SUPPORT_HOTLINE,
        "support_hours": settings.SUPPORT_HOURS,
    }
