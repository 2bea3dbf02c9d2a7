"""Plans: a change of terms publishes a new version; the versions sold before never change."""

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from accounts import services as account_services
from accounts.models import User
from billing.models import Plan


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
