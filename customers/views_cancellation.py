"""Cancellation of a line (customer) and the support queue that decides it; the data export."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import selectors as account_selectors
from accounts.models import Line
from accounts.permissions import staff_permission_required
from accounts.phones import phone_display
from billing import selectors as billing_selectors
from billing import services as billing_services
from customers import selectors, services
from customers.exports import build_export
from customers.forms import BindingFormSet, CancellationForm, DecisionNoteForm, RefundConfirmForm
from customers.models import CancellationRequest

DECIDE = "customers.decide_cancellation"


@login_required
@require_http_methods(["GET", "POST"])
def cancel(request):
    """Pick a line, see what still blocks its cancellation, and ask for it."""
    lines = list(account_selectors.cancellable_lines(user=request.user))
    line = _chosen_line(request, lines)
    open_requests = selectors.open_cancellations(user=request.user)
    if line is None:
        return render(request, "customers/cancel_choose.html", {"lines": lines, "open_requests": open_requests})
    existing = next((item for item in open_requests if item.line_id == line.pk), None)
    if existing is not None:
        return render(request, "customers/cancel_existing.html", {"cancellation": existing})

    form = CancellationForm(request.POST or None)
    bindings = BindingFormSet(request.POST or None, prefix="bindings")
    if request.method == "POST":
        form_ok, bindings_ok = form.is_valid(), bindings.is_valid()
        if form_ok and bindings_ok:
            try:
                _cancellation, created = services.cancellation_request_submit(
                    actor=request.user,
                    line_id=line.pk,
                    full_name=form.cleaned_data["full_name"],
                    phone=form.cleaned_data["phone"],
                    reason=form.cleaned_data["reason"],
                    reason_detail=form.cleaned_data["reason_detail"],
                    bindings=_listed_bindings(bindings),
                )
            except services.CancellationError as error:
                _show_problems(form, bindings, error.problems)
            else:
                if created:
                    messages.success(request, _("Your request is filed. Support will answer within 2 business days."))
                else:
                    messages.info(request, _("You already asked to cancel this line; here is that request."))
                return redirect(f"{request.path}?line={line.pk}")
        else:
            # The typed name and number are checked too, so that one submit shows every problem.
            _show_problems(
                form,
                bindings,
                services.cancellation_identity_problems(
                    user=request.user,
                    line=line,
                    full_name=form.cleaned_data.get("full_name"),
                    phone=form.cleaned_data.get("phone"),
                ),
            )
    if request.method == "GET" and request.user.phone:
        form.initial.setdefault("phone", phone_display(request.user.phone))
    blockers = services.cancellation_blockers(user=request.user, line=line)
    context = {
        "line": line,
        "form": form,
        "bindings": bindings,
        "blockers": blockers,
        "posted": request.method == "POST",
    }
    return render(request, "customers/cancel.html", context, status=400 if request.method == "POST" else 200)


def _listed_bindings(bindings) -> list[dict]:
    return [
        {"name": row["name"].strip(), "unbound": bool(row.get("unbound"))}
        for row in bindings.cleaned_data
        if row and row.get("name", "").strip()
    ]


def _show_problems(form, bindings, problems) -> None:
    """Put each problem beside its field; what billing holds open is the checklist's, shown there once."""
    for problem in problems:
        if problem.field in ("full_name", "phone") and problem.field not in form.errors:
            form.add_error(problem.field, problem.message)
        elif problem.field == "bindings":
            # A formset has no public way to add an error of its own after validation.
            bindings._non_form_errors = bindings.error_class([*bindings.non_form_errors(), problem.message])
        elif problem.field is None and problem.code not in services.CHECKLIST_CODES:
            form.add_error(None, problem.message)


def _chosen_line(request, lines: list[Line]):
    wanted = request.GET.get("line") or request.POST.get("line")
    if wanted:
        line = next((line for line in lines if str(line.pk) == wanted), None)
        if line is None:
            raise Http404
        return line
    return lines[0] if len(lines) == 1 else None


@login_required
@require_POST
def cancel_withdraw(request, request_id: int):
    # Someone else's request answers like a missing one: ids cannot be probed.
    if not selectors.cancellation_exists_for_owner(request_id=request_id, user=request.user):
        raise Http404
    try:
        services.cancellation_request_withdraw(request_id=request_id, actor=request.user)
    except services.CancellationError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Your cancellation request is withdrawn. The line stays in service."))
    return redirect("customers:account_centre")


@login_required
@require_http_methods(["GET", "POST"])
def refund_balance(request):
    """Refund the spendable wallet balance, after the customer confirmed the amount on this page."""
    balance = billing_selectors.wallet_available(user=request.user)
    target = _safe_next(request, request.POST.get("next") or request.GET.get("next", ""))
    form = RefundConfirmForm(
        request.POST if request.method == "POST" else None, initial={"amount": balance, "next": target}
    )
    if request.method == "POST" and form.is_valid():
        try:
            amount = billing_services.wallet_refund_balance(
                user=request.user,
                actor=request.user,
                reference=f"customer-refund:{request.user.pk}:{timezone.now():%Y%m%d%H%M%S%f}",
                confirmed_amount=form.cleaned_data["amount"],
            )
        except billing_services.BillingError as error:
            messages.error(request, str(error))
            form = RefundConfirmForm(initial={"amount": balance, "next": target})
        else:
            if amount:
                messages.success(
                    request, _("¥%(amount)s will be returned to your original payment method.") % {"amount": amount}
                )
            else:
                messages.info(request, _("Your wallet is empty: there is nothing to refund."))
            return redirect(target)
    context = {"form": RefundConfirmForm(initial={"amount": balance, "next": target}) if form.is_bound else form}
    context.update({"balance": balance, "next": target})
    return render(request, "customers/refund_confirm.html", context)


def _safe_next(request, target: str) -> str:
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return reverse("customers:cancel")
    return target


@login_required
@require_GET
def export(request):
    response = HttpResponse(build_export(request.user), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="heyon-my-data-{timezone.localdate():%Y%m%d}.zip"'
    response["Cache-Control"] = "private, no-store"
    return response


# --- support ----------------------------------------------------------------------------


@staff_permission_required(DECIDE)
@require_GET
def staff_queue(request):
    status = request.GET.get("status", CancellationRequest.Status.OPEN)
    if status not in CancellationRequest.Status.values:
        status = CancellationRequest.Status.OPEN
    context = {
        "requests": selectors.cancellation_queue(status=status),
        "status": status,
        "statuses": CancellationRequest.Status.choices,
    }
    return render(request, "customers/staff_cancellations.html", context)


@staff_permission_required(DECIDE)
@require_http_methods(["GET", "POST"])
def staff_decide(request, request_id: int):
    cancellation = selectors.cancellation_for_staff(request_id=request_id)
    if cancellation is None:
        raise Http404
    form = DecisionNoteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            if form.cleaned_data["decision"] == "approve":
                services.cancellation_request_approve(
                    request_id=cancellation.pk, actor=request.user, note=form.cleaned_data["note"]
                )
                messages.success(request, _("Approved: the line is cancelled and the customer is told."))
            else:
                services.cancellation_request_reject(
                    request_id=cancellation.pk, actor=request.user, note=form.cleaned_data["note"]
                )
                messages.success(request, _("Rejected; the customer is told why."))
        except services.CancellationError as error:
            form.add_error(None, str(error))
        else:
            return redirect("customers:staff_cancellations")
    context = {
        "cancellation": cancellation,
        "form": form,
        "blockers": services.cancellation_blockers(
            user=cancellation.user, line=cancellation.line, include_balance=False
        ),
        "balance": billing_selectors.wallet_balance(user=cancellation.user),
    }
    return render(request, "customers/staff_cancellation.html", context, status=409 if form.non_field_errors() else 200)
