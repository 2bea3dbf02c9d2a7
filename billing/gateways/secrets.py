"""Provider keys: read from the files (or environment values) the settings name, never literals."""

from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def from_file(file_setting: str) -> str:
    path = getattr(settings, file_setting, "")
    if not path:
        raise ImproperlyConfigured(f"{file_setting} is not set.")
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as error:
        raise ImproperlyConfigured(f"{file_setting} names {path}, which cannot be read: {error}") from error


def from_env_or_file(value_setting: str) -> str:
    """The value of ``value_setting``, or the content of the file ``<value_setting>_FILE`` names."""
    value = getattr(settings, value_setting, "")
    if value:
        return value
    return from_file(f"{value_setting}_FILE")


def callback_url(path: str) -> str:
    """An absolute URL on this site for a provider (return page, notification)."""
    base = settings.PAYMENT_CALLBACK_BASE_URL.rstrip("/")
    if not base:
        raise ImproperlyConfigured("PAYMENT_CALLBACK_BASE_URL is not set: providers need the site's public address.")
    return base + path


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def missing(*names: str) -> list[str]:
    """Problems with the named settings: unset, or a *_FILE that cannot be read."""
    problems = []
    for name in names:
        value = getattr(settings, name, "")
        if not value:
            problems.append(f"{name} is not set")
        elif name.endswith("_FILE") and not Path(value).is_file():
            problems.append(f"{name} names {value}, which is not a readable file")
    return problems
