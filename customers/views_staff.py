"""Staff pages across the portal: the dashboard, customer lookup and the audit log."""

from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from accounts import selectors as account_selectors
from accounts.permissions import staff_permission_required
from billing import selectors as billing_selectors
from customers import charts, selectors, services
from customers.forms import AuditFilterForm, CustomerSearchForm
from customers.paging import keyset_before
from reviews import selectors as review_selectors

REVIEW = "reviews.review_submission"
# Who leads the review team sees every reviewer's figures: the senior reviewers who check samples.
TEAM_FIGURES = "reviews.check_quality_sample"


@staff_permission_required()
@require_GET
def staff_home(request):
    """The staff dashboard: each role sees the figures and links of its own work."""
    user = request.user
    can_review = user.has_perm(REVIEW)
    context = {
        "can_review": can_review,
        "figures": review_selectors.dashboard_figures(user=user) if can_review else None,
        "workload": selectors.staff_workload(user=user),
        "team": _reviewer_figures(user) if can_review else None,
        "discrepancies": (
            billing_selectors.open_discrepancies() if user.has_perm("billing.view_discrepancy") else None
        ),
    }
    return render(request, "customers/staff_home.html", context)


# The decisions chart draws the busiest reviewers; the table below it lists everyone.
CHART_REVIEWERS = 8


def _reviewer_figures(user) -> dict:
    """Per-reviewer figures and their charts: a senior (who checks samples) sees the team, a reviewer their own."""
    figures = review_selectors.reviewer_figures()
    sees_team = user.has_perm(TEAM_FIGURES)
    reviewers = [row for row in figures["reviewers"] if sees_team or row["id"] == user.pk]
    charted = reviewers[:CHART_REVIEWERS]
    return {
        "sees_team": sees_team,
        "days": figures["days"],
        "reviewers": reviewers,
        "decisions_chart": charts.line_chart(
            days=figures["days"], series=[(row["username"], row["per_day"]) for row in charted]
        ),
        "handling_chart": charts.bar_chart(
            rows=[(row["username"], row["median_minutes"]) for row in charted], unit=" " + _("min")
        ),
        "overturned_chart": charts.bar_chart(
            rows=[(row["username"], 100 * row["overturned_share"]) for row in charted], unit="%"
        ),
        "more_than_charted": len(reviewers) > CHART_REVIEWERS,
    }


@staff_permission_required("accounts.view_user")
@require_GET
def staff_customer_search(request):
    form = CustomerSearchForm(request.GET or None)
    found = []
    if form.is_bound and form.is_valid():
        found = selectors.customers_search(query=form.cleaned_data["q"])
        if len(found) == 1:
            return redirect("customers:staff_customer", user_id=found[0].pk)
        if not found:
            form.add_error("q", _("No customer matches."))
    return render(request, "customers/staff_customer_search.html", {"form": form, "found": found})


@staff_permission_required("accounts.view_user")
@require_GET
def staff_customer(request, user_id: int):
    overview = selectors.customer_overview(user_id=user_id)
    if overview is None:
        raise Http404
    overview["full_ids"] = {}
    if request.user.has_perm("reviews.view_full_id_number"):
        overview["full_ids"] = services.customer_id_numbers_reveal(
            actor=request.user, customer=overview["customer"], submissions=overview["submissions"]
        )
    return render(request, "customers/staff_customer.html", overview)


@staff_permission_required("accounts.view_auditevent")
@require_GET
def staff_audit(request):
    form = AuditFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_bound and form.is_valid() else {}
    before_id = keyset_before(request)
    events, next_before = account_selectors.audit_page(
        staff=filters.get("staff") or "",
        customer_id=filters.get("customer"),
        target_type=filters.get("target_type") or "",
        target_id=(filters.get("target_id") or "").strip(),
        date_from=filters.get("date_from"),
        date_to=filters.get("date_to"),
        before_id=before_id,
    )
    query = request.GET.copy()
    query.pop("before", None)
    context = {"form": form, "events": events, "next_before": next_before, "query": query.urlencode()}
    return render(request, "customers/staff_audit.html", context)
