"""Filters of the staff review screen."""

from django import template

from reviews import pii

register = template.Library()


@register.filter
def masked_phone(phone) -> str:
    """A customer's number as staff investigating another account see it: 138****8000."""
    return pii.mask_phone(phone) if phone else ""
