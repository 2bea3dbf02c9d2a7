"""Plans: a change of terms publishes a new version; the versions sold before never change."""

import logging
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from accounts import services as account_services
from accounts.models import Line, User
from billing.models import LineService, Plan

logger = logging.getLogger(__name__)


def plan_version_create(*, actor: User, plan: Plan) -> Plan:
    """Publish ``plan``'s terms as the next version of its code, the one on sale from now on.

    ``plan`` is a new plan, or an existing version with its terms edited in memory (the
    admin's form): either way it is saved as a new row, and the version that was
    current (and the edited one) stop being current. Orders keep pointing at the version
    they were sold with. Returns the new version.
    """
    edited_pk = plan.pk
    with transaction.atomic():
        # Locks the code's versions: two editors publishing at once get consecutive numbers.
        list(Plan.objects.select_for_update().filter(code=plan.code).values_list("pk", flat=True))
        latest = Plan.objects.filter(code=plan.code).aggregate(latest=Max("version"))["latest"] or 0
        current = Plan.objects.filter(Q(code=plan.code) | Q(pk=edited_pk), is_current=True)
        retired = list(current.values_list("version", flat=True))
        current.update(is_current=False)
        plan.pk = None
        plan._state.adding = True
        plan.version = latest + 1
        plan.is_current = True
        plan.created_at = timezone.now()
        plan.full_clean()
        plan.save(force_insert=True)
        account_services.audit_record(
            actor=actor,
            verb="plan.version_created",
            target=plan,
            data={
                "code": plan.code,
                "version": plan.version,
                "replaces_version": retired[0] if retired else None,
                "monthly_price": str(plan.monthly_price),
            },
        )
    return plan


def line_services_start(*, lines: list[Line], now: datetime) -> None:
    """Start lines that were just activated for the first time on the plan they were sold with.

    Called by ``accounts`` inside the activation's transaction (registered in
    ``BillingConfig.ready``). Each line gets its service row with one month of the plan's
    allowances, so the account centre shows plan, data and minutes from activation rather
    than from the first renewal. The plan is the current version of the line's
    ``plan_code``, else of ``DEFAULT_LINE_PLAN``, else the cheapest plan on sale; a code
    that is not (or no longer) a plan falls back the same way. A line that already has a
    service row (given by an administrator) keeps it.
    """
    if not lines:
        return
    current = {plan.code: plan for plan in Plan.objects.filter(is_current=True)}
    on_sale = [plan for plan in current.values() if plan.is_active]
    fallback = current.get(settings.DEFAULT_LINE_PLAN) or min(
        on_sale, key=lambda plan: plan.monthly_price, default=None
    )
    services = []
    for line in lines:
        plan = current.get(line.plan_code) or fallback
        if plan is None:
            logger.error("No plan to start line %s on: no plan is on sale.", line.pk)
            continue
        if line.plan_code and line.plan_code not in current:
            logger.warning("Line %s was sold with unknown plan %r; started on %s.", line.pk, line.plan_code, plan.code)
        services.append(
            LineService(
                line_id=line.pk,
                plan=plan,
                data_left_mb=plan.data_mb,
                voice_left_minutes=plan.voice_minutes,
                sms_left=plan.sms_count,
                updated_at=now,
            )
        )
    LineService.objects.bulk_create(services, batch_size=1000, ignore_conflicts=True)
