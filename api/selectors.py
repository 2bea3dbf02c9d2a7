"""The app's list reads that the owning apps keep only as short, sliced lists for the web."""

from billing.models import Order
from customers.models import CancellationRequest, SupportThread


def orders_of(*, user):
    return Order.objects.filter(user=user).select_related("plan", "receipt")


def cancellations_of(*, user):
    return CancellationRequest.objects.filter(user=user)


def support_threads_of(*, user):
    return SupportThread.objects.filter(customer=user)
