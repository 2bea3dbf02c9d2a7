"""The staff warning shown while the official calendar of a year due dates reach is missing."""

from django import template

from reviews.business_days import calendar_years_missing

register = template.Library()


@register.inclusion_tag("reviews/includes/calendar_warning.html")
def calendar_warning():
    return {"years": calendar_years_missing()}
