"""Support conversations for customers and support staff; customer lookup; the audit view."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts import selectors, services
from accounts.forms import AuditFilterForm, CustomerSearchForm, SupportReplyForm, SupportThreadForm
from accounts.models import SupportThread
from accounts.permissions import staff_permission_required

ANSWER = "accounts.answer_support"


@login_required
@require_http_methods(["GET", "POST"])
def support(request):
    """Leave a message for support; see earlier conversations."""
    form = SupportThreadForm(request.POST or None, initial={"topic": request.GET.get("topic", "other")})
    if request.method == "POST" and form.is_valid():
        try:
            thread = services.support_thread_open(
                customer=request.user, topic=form.cleaned_data["topic"], body=form.cleaned_data["body"]
            )
        except services.SupportError as error:
            form.add_error("body", str(error))
        else:
            messages.success(request, _("Message sent. Support usually answers within one working day."))
            return redirect("accounts:support_thread", thread_id=thread.pk)
    threads = selectors.support_threads_for_customer(user=request.user)
    return render(request, "accounts/support.html", {"form": form, "threads": threads})


@login_required
@require_http_methods(["GET", "POST"])
def support_thread(request, thread_id: int):
    thread = selectors.support_thread_with_messages(thread_id=thread_id)
    if thread is None or thread.customer_id != request.user.pk:
        raise Http404
    form = SupportReplyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.support_message_add(thread_id=thread.pk, author=request.user, body=form.cleaned_data["body"])
        except services.SupportError as error:
            form.add_error("body", str(error))
        else:
            return redirect("accounts:support_thread", thread_id=thread.pk)
    return render(request, "accounts/support_thread.html", {"thread": thread, "form": form})


@staff_permission_required(ANSWER)
@require_GET
def staff_support_queue(request):
    status = request.GET.get("status", SupportThread.Status.OPEN)
    if status not in SupportThread.Status.values:
        status = SupportThread.Status.OPEN
    mine = request.GET.get("mine") == "1"
    threads = selectors.support_queue(status=status, assignee=request.user if mine else None)
    context = {"threads": threads, "status": status, "statuses": SupportThread.Status.choices, "mine": mine}
    return render(request, "accounts/staff_support.html", context)


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
                return redirect("accounts:staff_support_thread", thread_id=thread.pk)
            if action == "close":
                services.support_thread_close(thread_id=thread.pk, actor=request.user)
                return redirect("accounts:staff_support")
            if form.is_valid():
                services.support_message_add(thread_id=thread.pk, author=request.user, body=form.cleaned_data["body"])
                messages.success(request, _("Answer sent; the customer is told by SMS and email."))
                return redirect("accounts:staff_support")
        except services.SupportError as error:
            form.add_error("body", str(error))
    return render(request, "accounts/staff_support_thread.html", {"thread": thread, "form": form})


@staff_permission_required("accounts.view_user")
@require_GET
def staff_customer_search(request):
    form = CustomerSearchForm(request.GET or None)
    if form.is_bound and form.is_valid():
        customer = selectors.customer_search(query=form.cleaned_data["q"])
        if customer is not None:
            return redirect("accounts:staff_customer", user_id=customer.pk)
        form.add_error("q", _("No customer matches."))
    return render(request, "accounts/staff_customer_search.html", {"form": form})


@staff_permission_required("accounts.view_user")
@require_GET
def staff_customer(request, user_id: int):
    from reviews import pii

    overview = selectors.customer_overview(user_id=user_id)
    if overview is None:
        raise Http404
    full_ids = {}
    if request.user.has_perm("reviews.view_full_id_number"):
        for submission in overview["submissions"]:
            if submission.id_number_encrypted:
                full_ids[submission.pk] = pii.decrypt(submission.id_number_encrypted)
        if full_ids:
            services.audit_record(
                actor=request.user,
                verb="customer.id_numbers_viewed",
                target=overview["customer"],
                subject_user=overview["customer"],
                data={"submissions": list(full_ids)},
            )
    overview["full_ids"] = full_ids
    return render(request, "accounts/staff_customer.html", overview)


@staff_permission_required("accounts.view_auditevent")
@require_GET
def staff_audit(request):
    form = AuditFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_bound and form.is_valid() else {}
    try:
        before_id = int(request.GET.get("before", "") or 0) or None
    except ValueError:
        before_id = None
    events, next_before = selectors.audit_page(
        staff=filters.get("staff") or "",
        customer_id=filters.get("customer"),
        date_from=filters.get("date_from"),
        date_to=filters.get("date_to"),
        before_id=before_id,
    )
    query = request.GET.copy()
    query.pop("before", None)
    context = {"form": form, "events": events, "next_before": next_before, "query": query.urlencode()}
    return render(request, "accounts/staff_audit.html", context)
