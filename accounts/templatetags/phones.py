"""``{{ line.msisdn|phone }}``: a phone number as people read it (accounts.phones)."""

from django import template

from accounts.phones import phone_display

register = template.Library()
register.filter("phone", phone_display)
