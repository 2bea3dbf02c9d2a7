"""The senior reviewers' sample queue: confirm or overturn a drawn decision. Thin: form → one service → redirect."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.permissions import staff_permission_required
from reviews import selectors, services
from reviews.forms import QualityCheckForm
from reviews.models import QualitySample


@staff_permission_required(services.CHECK_PERMISSION)
@require_http_methods(["GET"])
def samples(request):
    context = {
        "pending": selectors.quality_samples_pending(viewer=request.user),
        "checked": selectors.quality_samples_checked_recently(),
    }
    return render(request, "reviews/quality_samples.html", context)


@staff_permission_required(services.CHECK_PERMISSION)
@require_http_methods(["GET", "POST"])
def sample_check(request, sample_id: int):
    sample = selectors.quality_sample_for_check(sample_id=sample_id)
    if sample is None:
        raise Http404
    form = QualityCheckForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if data["outcome"] == "confirm":
                services.quality_sample_confirm(sample_id=sample.pk, actor=request.user, note=data["note"])
            else:
                services.quality_sample_overturn(
                    sample_id=sample.pk,
                    actor=request.user,
                    reason_codes=data["reason_codes"],
                    message=data["customer_message"],
                    note=data["note"],
                )
        except QualitySample.DoesNotExist as error:
            raise Http404 from error
        except services.ReviewError as error:
            form.add_error(None, str(error))
            status = 409
        else:
            if data["outcome"] == "confirm":
                done = _("Confirmed the decision on submission #%(id)s.")
            else:
                done = _("Overturned the decision on submission #%(id)s.")
            messages.success(request, done % {"id": sample.submission_id})
            return redirect("reviews:samples")
    elif request.method == "POST":
        status = 400
    return render(request, "reviews/quality_sample.html", {"sample": sample, "form": form}, status=status)
