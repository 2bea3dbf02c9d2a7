"""Keyset pagination helpers shared by the portal's long lists."""


def keyset_before(request) -> int | None:
    """The ``?before=<id>`` a "older" link carries; None when absent or not a positive integer."""
    try:
        return int(request.GET.get("before", "") or 0) or None
    except ValueError:
        return None
