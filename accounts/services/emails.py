"""The account's email: typed, it waits; proved with the code mailed to it, it becomes the account's.

Every way an email reaches an account goes through here (registration, the account's email
page, the app). Until the proof the address signs nobody in and gets no reset code and no
mail but its code, and whether another account has it is told only to the person who proved
it: typing an address answers the same whoever holds it.
"""

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from accounts import message_kinds
from accounts.models import OneTimeCode, User

from .audit import audit_record
from .codes import ERR_CODE_WRONG, CodeError, email_code_issue, email_codes_end, one_time_code_verify
from .messages import notify, outbox_queue

ERR_EMAIL_CONFIRMED_ELSEWHERE = gettext_lazy(
    "This email is already confirmed on another Heyon account. Sign in to that account, or use another email."
)
ERR_EMAIL_ALREADY_YOURS = gettext_lazy("This is already your account's email.")
ERR_STAFF_EMAIL = gettext_lazy("A staff account's email is set by an administrator.")
ERR_NO_EMAIL_WAITING = gettext_lazy("No email is waiting for its code: there is nothing to cancel.")


class EmailError(Exception):
    """The email could not be taken or proved; the message is for the person."""


def email_change_request(*, user: User, email: str, ip: str | None) -> User:
    """Keep ``email`` waiting for proof and mail it a code; the account's email stays until then.

    Asking again for the same address mails a fresh code (the last one stops working); asking
    for another puts it in place of the one waiting. A rate limit (CodeError) changes nothing.
    """
    email = User.objects.normalize_email(email)
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        # Codes never reach staff (docs/DECISIONS.md): an administrator sets their email.
        if user.is_staff:
            raise EmailError(ERR_STAFF_EMAIL)
        if user.email and user.email.lower() == email.lower():
            raise EmailError(ERR_EMAIL_ALREADY_YOURS)
        user.pending_email = email
        user.clean_fields(exclude=[field.name for field in User._meta.fields if field.name != "pending_email"])
        user.save(update_fields=["pending_email"])
        email_code_issue(user=user, ip=ip)
        audit_record(actor=user, verb="user.email_change_requested", target=user, subject_user=user)
    return user


def email_change_cancel(*, user: User) -> User:
    """Withdraw the email waiting for its code: the address is forgotten and its code ends.

    The account's email, if any, stays as it is. With nothing waiting it is refused
    (EmailError) and changes nothing.
    """
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if not user.pending_email:
            raise EmailError(ERR_NO_EMAIL_WAITING)
        user.pending_email = ""
        user.save(update_fields=["pending_email"])
        email_codes_end(user=user)
        audit_record(actor=user, verb="user.email_change_cancelled", target=user, subject_user=user)
    return user


def email_confirm(*, user: User, code: str) -> User:
    """Prove the address the code was mailed to: it becomes the account's email.

    An address another account proved stays that account's (EmailError, told only now that
    the code shows this person holds the mailbox). An account that merely held it, from
    before emails were proved, loses it and is told by SMS. The previous address is told.
    """
    # Verified in its own transaction: a wrong guess must stay counted although it raises.
    record = one_time_code_verify(user=user, purpose=OneTimeCode.Purpose.EMAIL_CONFIRM, code=code)
    address = record.destination
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        # The code was checked before this lock: an address cancelled (or replaced) meanwhile
        # is no longer the one waiting, and its code proves nothing.
        if user.pending_email.lower() != address.lower():
            raise CodeError(ERR_CODE_WRONG)
        others = User.objects.filter(email__iexact=address).exclude(pk=user.pk)
        if others.filter(email_verified_at__isnull=False).exists():
            raise EmailError(ERR_EMAIL_CONFIRMED_ELSEWHERE)
        for holder in others.select_for_update():
            _email_remove(holder=holder, address=address)
        previous = user.email
        user.email = address
        user.email_verified_at = timezone.now()
        user.pending_email = ""
        try:
            with transaction.atomic():
                user.save(update_fields=["email", "email_verified_at", "pending_email"])
        except IntegrityError:
            # Another account proved it at the same moment (the unique index waited for it).
            raise EmailError(ERR_EMAIL_CONFIRMED_ELSEWHERE) from None
        audit_record(actor=user, verb="user.email_confirmed", target=user, subject_user=user)
        params = {"email": address}
        notify(user=user, kind=message_kinds.EMAIL_CHANGED, params=params, sms_too=True, email_too=False)
        if previous and previous.lower() != address.lower():
            outbox_queue(
                channel=OneTimeCode.Channel.EMAIL,
                recipient=previous,
                kind=message_kinds.EMAIL_CHANGED,
                params=params,
                language=user.message_language,
            )
    return user


def _email_remove(*, holder: User, address: str) -> None:
    """Take an address its owner proved away from an account that held it unproved."""
    holder.email = None
    holder.email_verified_at = None
    holder.save(update_fields=["email", "email_verified_at"])
    audit_record(actor=None, verb="user.email_removed", target=holder, subject_user=holder)
    notify(
        user=holder,
        kind=message_kinds.EMAIL_REMOVED,
        params={"email": address},
        sms_too=True,  # notify leaves the text out for a number given up: it names the address
        email_too=False,
    )
