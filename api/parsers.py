"""The app's request body parser."""

from django.utils.translation import gettext_lazy as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError

ERR_JSON_TOO_DEEP = _("The JSON body is nested too deeply.")


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser; a body nested past what the decoder can recurse is refused (400), not a crash.

    A couple of kilobytes of ``[[[[…`` exhaust Python's recursion limit inside ``json``, and the
    RecursionError is no ValueError, so DRF's parser would let it through as a 500 on any
    endpoint, the anonymous ones included.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as error:
            raise ParseError(ERR_JSON_TOO_DEEP) from error
