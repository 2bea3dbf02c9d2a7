"""Demo data for trying the product: service points, staff of every role, customers, lines.

Safe to run again: existing rows are kept, and a few new unattached lines are made each
time so that there are always fresh activation codes to try (codes are stored hashed
and cannot be shown again).
"""

import os

from django.core.management.base import BaseCommand
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from accounts import services
from accounts.models import Line, ServicePoint, User
from billing import services as billing_services
from billing.models import LineService, Plan
from reviews import services as review_services
from reviews.demo import resident_id, submit_demo

DEMO_PASSWORD = "heyon-demo-2026"  # noqa: S105 - printed for the demo on purpose

SERVICE_POINTS = [
    (
        "bj-chaoyang",
        "朝阳门营业厅",
        ServicePoint.Kind.BOTH,
        "北京",
        "北京市朝阳区朝阳门外大街 18 号",
        "09:00–20:00",
        "010-6500-1000",
    ),
    (
        "bj-haidian",
        "中关村认证点",
        ServicePoint.Kind.VERIFICATION,
        "北京",
        "北京市海淀区中关村大街 27 号",
        "10:00–19:00",
        "010-6200-2000",
    ),
    (
        "sh-xuhui",
        "徐家汇授权店",
        ServicePoint.Kind.STORE,
        "上海",
        "上海市徐汇区漕溪北路 88 号",
        "10:00–22:00",
        "021-6400-3000",
    ),
    (
        "sh-pudong",
        "陆家嘴营业厅",
        ServicePoint.Kind.BOTH,
        "上海",
        "上海市浦东新区世纪大道 100 号",
        "09:00–21:00",
        "021-5800-4000",
    ),
    (
        "sz-futian",
        "福田认证点",
        ServicePoint.Kind.VERIFICATION,
        "深圳",
        "深圳市福田区深南大道 6008 号",
        "09:30–18:30",
        "0755-8300-5000",
    ),
]

STAFF = [
    ("reviewer", "reviewer", None),
    ("senior", "senior_reviewer", None),
    ("clerk", "clerk", "bj-chaoyang"),
    ("clerk2", "clerk", "sh-pudong"),
    ("support", "support", None),
    ("admin", "admin", None),
]

CUSTOMERS = [
    # phone, email, verified, lines, demo submission (name, ID number seed) or None
    ("+8613800138000", "li.lei@example.com", True, 1, ("李雷", "19900101", "321")),
    ("+8613900139000", "han.meimei@example.com", False, 1, ("韩梅梅", "19920315", "246")),
    ("+8613700137000", None, False, 0, None),
    ("+8613600136000", "zhao.min@example.com", False, 1, ("赵敏", "19880808", "135")),
    ("+8613500135000", None, False, 2, ("阿依古丽·买买提", "19950620", "468")),
]


class Command(BaseCommand):
    help = "Create demo service points, staff, customers and lines, and print how to sign in."

    def add_arguments(self, parser):
        parser.add_argument("--fresh-lines", type=int, default=3, help="New unattached lines to create")

    def handle(self, *args, fresh_lines, **options):
        staff_password = os.environ.get("HEYON_STAFF_PASSWORD", DEMO_PASSWORD)
        # The demo's own welcome messages stay in the outbox (dispatch_messages sends
        # them) so that the logins below are not buried under console output.
        with override_settings(OUTBOX_SEND_ON_COMMIT=False), transaction.atomic():
            points = {}
            for code, name, kind, city, address, hours, phone in SERVICE_POINTS:
                points[code], _ = ServicePoint.objects.get_or_create(
                    code=code,
                    defaults={
                        "name": name,
                        "kind": kind,
                        "city": city,
                        "address": address,
                        "opening_hours": hours,
                        "phone": phone,
                    },
                )
            for login, role, point_code in STAFF:
                if not User.objects.filter(username=login).exists():
                    services.staff_user_create(
                        login=login, role=role, password=staff_password, service_point=points.get(point_code)
                    )
            for phone, email, verified, line_count, submission in CUSTOMERS:
                self._customer(phone, email, verified, line_count, submission)
            codes = [self._new_line() for _ in range(fresh_lines)]

        out = self.stdout.write
        out(self.style.SUCCESS("Demo data is ready. Sign in at http://127.0.0.1:8000/accounts/login/"))
        out("")
        out(f"Customers (password {DEMO_PASSWORD}):")
        for phone, _email, verified, _count, submission in CUSTOMERS:
            state = "verified, line active" if verified else ("submission waiting for review" if submission else "")
            out(f"  {phone}  {state or 'not verified yet'}")
        shown = "from HEYON_STAFF_PASSWORD" if "HEYON_STAFF_PASSWORD" in os.environ else staff_password
        out(f"Staff (password {shown}):")
        for login, role, point_code in STAFF:
            out(f"  {login:<9} {role}{' @ ' + point_code if point_code else ''}")
        out("Fresh activation codes (attach at /account/lines/add/):")
        for number, code in codes:
            out(f"  {code}  → line {number}")

    def _customer(self, phone, email, verified, line_count, submission):
        user = User.objects.filter(phone=phone).first()
        if user is not None:
            return user
        user = User.objects.create_user(phone=phone, email=email, password=DEMO_PASSWORD)
        # Demo customers stand for people who confirmed their number and their email long ago.
        user.phone_verified_at = timezone.now()
        user.email_verified_at = user.phone_verified_at if email else None
        user.save(update_fields=["phone_verified_at", "email_verified_at"])
        for _ in range(line_count):
            _number, code = self._new_line()
            services.line_attach(actor=user, activation_code=code)
        if submission:
            name, birth, sequence = submission
            submitted = submit_demo(
                user=user, full_name=name, id_number=resident_id(birth=birth, sequence=sequence), seed=len(name)
            )
            if verified:
                # Verified the way customers are: an approved submission, which a senior
                # reviewer can open in the review screen (and try revoking).
                reviewer = User.objects.get(username="reviewer")
                review_services.submission_claim(submission_id=submitted.pk, actor=reviewer)
                review_services.submission_approve(submission_id=submitted.pk, actor=reviewer)
        elif verified:
            services.user_mark_real_name_verified(user=user, actor=None, channel="demo")
        if verified:
            self._billing(user)
        return user

    def _billing(self, user):
        """A plan on each line and ¥100 in the wallet, so renewals can be tried at once."""
        basic = Plan.objects.get(code="basic", is_current=True)
        for line in user.lines.all():
            LineService.objects.get_or_create(
                line=line,
                defaults={"plan": basic, "data_left_mb": basic.data_mb, "voice_left_minutes": basic.voice_minutes,
                          "sms_left": basic.sms_count},
            )  # fmt: skip
        billing_services.ledger_append(
            user=user, kind="adjustment", amount=100, reference=f"demo-credit:{user.pk}", note="Demo credit"
        )

    def _new_line(self):
        serial = Line.objects.count() + 1
        while True:
            msisdn = f"+86170{serial:08d}"
            if not Line.objects.filter(msisdn=msisdn).exists():
                break
            serial += 1
        line, code = services.line_create(msisdn=msisdn, iccid=f"8986{serial:015d}0")
        return line.msisdn.as_national, code
