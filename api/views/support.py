"""Support conversations."""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from api.idempotency import idempotent
from api.pagination import CURSOR_PARAMETER, keyset_page, paged
from api.selectors import support_threads_of
from api.serializers import (
    FormSerializer,
    SupportMessageSerializer,
    SupportThreadDetailSerializer,
    SupportThreadSerializer,
)
from api.views.base import ApiView
from customers import selectors as customer_selectors
from customers import services as customer_services
from customers.forms import SupportReplyForm, SupportThreadForm
from customers.models import SupportThread


class ThreadSerializer(FormSerializer):
    form_class = SupportThreadForm
    topic = serializers.ChoiceField(choices=SupportThread.Topic.choices)
    body = serializers.CharField(max_length=2000)


class ReplySerializer(FormSerializer):
    form_class = SupportReplyForm
    body = serializers.CharField(max_length=2000)


class SupportThreadsView(ApiView):
    @extend_schema(
        operation_id="support_threads", parameters=[CURSOR_PARAMETER], responses={200: paged(SupportThreadSerializer)}
    )
    def get(self, request):
        """Your conversations with support, newest first."""
        page, next_cursor = keyset_page(support_threads_of(user=request.user), request)
        return Response({"results": SupportThreadSerializer(page, many=True).data, "next": next_cursor})

    @extend_schema(
        operation_id="support_thread_open", request=ThreadSerializer, responses={201: SupportThreadSerializer}
    )
    @idempotent
    def post(self, request):
        """Leave a message for support."""
        serializer = ThreadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        thread = customer_services.support_thread_open(
            actor=request.user, topic=serializer.validated_data["topic"], body=serializer.validated_data["body"]
        )
        return Response(SupportThreadSerializer(thread).data, status=status.HTTP_201_CREATED)


def owned_thread(request, thread_id: int):
    thread = customer_selectors.support_thread_with_messages(thread_id=thread_id)
    if thread is None or thread.customer_id != request.user.pk:
        raise Http404
    return thread


class SupportThreadView(ApiView):
    @extend_schema(operation_id="support_thread", responses={200: SupportThreadDetailSerializer})
    def get(self, request, thread_id: int):
        """One conversation with its messages."""
        return Response(SupportThreadDetailSerializer(owned_thread(request, thread_id)).data)


class SupportMessagesView(ApiView):
    @extend_schema(operation_id="support_reply", request=ReplySerializer, responses={201: SupportMessageSerializer})
    @idempotent
    def post(self, request, thread_id: int):
        """Reply in one of your conversations."""
        thread = owned_thread(request, thread_id)
        serializer = ReplySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        message = customer_services.support_message_add(
            thread_id=thread.pk, actor=request.user, body=serializer.validated_data["body"]
        )
        return Response(SupportMessageSerializer(message).data, status=status.HTTP_201_CREATED)
