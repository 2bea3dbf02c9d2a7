"""Support conversations, for customers and for support staff."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts.permissions import staff_permission_required
from customers import selectors, services
from customers.forms import SupportReplyForm, SupportThreadForm
from customers.models import SupportThread

ANSWER = "customers.answer_support"


@login_required
@require_http_methods(["GET", "POST"])
def support(request):
    """Leave a message for support; see earlier conversations."""
    form = SupportThreadForm(request.POST or None, initial={"topic": request.GET.get("topic", "other")})
    if request.method == "POST" and form.is_valid():
        try:
            thread = services.support_thread_open(
                actor=request.user, topic=form.cleaned_data["topic"], body=form.cleaned_data["body"]
            )
        except services.SupportError as error:
            form.add_error("body", str(error))
        else:
            messages.success(request, _("Message sent. Support usually answers within one working day."))
            return redirect("customers:support_thread", thread_id=thread.pk)
    threads = selectors.support_threads_for_customer(user=request.user)
    return render(request, "customers/support.html", {"form": form, "threads": threads})


@login_required
@require_http_methods(["GET", "POST"])
def support_thread(request, thread_id: int):
    thread = selectors.support_thread_with_messages(thread_id=thread_id)
    if thread is None or thread.customer_id != request.user.pk:
        raise Http404
    form = SupportReplyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.support_message_add(thread_id=thread.pk, actor=request.user, body=form.cleaned_data["body"])
        except services.SupportError as error:
            form.add_error("body", str(error))
        else:
            return redirect("customers:support_thread", thread_id=thread.pk)
    return render(request, "customers/support_thread.html", {"thread": thread, "form": form})


@staff_permission_required(ANSWER)
@require_GET
def staff_support_queue(request):
    status = request.GET.get("status", SupportThread.Status.OPEN)
    if status not in SupportThread.Status.values:
        status = SupportThread.Status.OPEN
    mine = request.GET.get("mine") == "1"
    threads = selectors.support_queue(status=status, assignee=request.user if mine else None)
    context = {"threads": threads, "status": status, "statuses": SupportThread.Status.choices, "mine": mine}
    return render(request, "customers/staff_support.html", context)


@staff_permission_required(ANSWER)
@require_http_methods(["GET", "POST"])
def staff_support_thread(request, thread_id: int):
    thread = selectors.support_thread_with_messages(thread_id=thread_id)
    if thread is None:
        raise Http404
    form = SupportReplyForm(request.POST or None)
    if request.method == "POST":
        action = request.POST.get("action", "reply")
        try:
            if action == "assign":
                services.support_thread_assign(thread_id=thread.pk, assignee=request.user, actor=request.user)
                return redirect("customers:staff_support_thread", thread_id=thread.pk)
            if action == "close":
                services.support_thread_close(thread_id=thread.pk, actor=request.user)
                return redirect("customers:staff_support")
            if form.is_valid():
                services.support_message_add(thread_id=thread.pk, actor=request.user, body=form.cleaned_data["body"])
                messages.success(request, _("Answer sent; the customer is told by SMS and email."))
                return redirect("customers:staff_support")
        except services.SupportError as error:
            form.add_error("body", str(error))
    return render(request, "customers/staff_support_thread.html", {"thread": thread, "form": form})
