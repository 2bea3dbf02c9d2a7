"""drf-spectacular: every operation documents its problem responses, and the idempotent ones their header."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from api.idempotency import IDEMPOTENCY_KEY_PATTERN
from api.problems import PROBLEM_CONTENT_TYPE

PROBLEM_STATUSES = (400, 401, 403, 404, 405, 406, 409, 415, 422, 429, 503)


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details; ``code`` is stable, ``detail`` is in the caller's language."""

    type = serializers.URLField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    code = serializers.CharField()
    detail = serializers.CharField()
    errors = serializers.DictField(
        child=serializers.JSONField(), required=False, help_text="Field errors: field name → messages."
    )


class ProblemAwareAutoSchema(AutoSchema):
    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        handler = getattr(self.view, self.method.lower(), None)
        if getattr(handler, "idempotent", False):
            parameters.append(
                OpenApiParameter(
                    "Idempotency-Key",
                    {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
                    OpenApiParameter.HEADER,
                    required=True,
                    description="A new random value per action (a UUID); a retry sends the same value.",
                )
            )
        parameters.append(
            OpenApiParameter(
                "Accept-Language",
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="The language of messages: `zh-hans` (the default) or `en`.",
            )
        )
        return parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for status_code in PROBLEM_STATUSES:
            if str(status_code) in responses:
                continue
            responses[str(status_code)] = self._get_response_for_code(
                ProblemSerializer, str(status_code), [PROBLEM_CONTENT_TYPE], direction
            )
        return responses
