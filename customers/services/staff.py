"""What support staff do on a customer's page that must leave a trace."""

from accounts.models import User
from accounts.services import audit_record
from reviews import pii


def customer_id_numbers_reveal(*, actor: User, customer: User, submissions) -> dict[int, str]:
    """Decrypt the full ID numbers of ``submissions`` for ``actor`` and record that they saw them.

    The caller checks the permission (``reviews.view_full_id_number``).
    """
    full_ids = {
        submission.pk: pii.decrypt(submission.id_number_encrypted)
        for submission in submissions
        if submission.id_number_encrypted
    }
    if full_ids:
        audit_record(
            actor=actor,
            verb="customer.id_numbers_viewed",
            target=customer,
            subject_user=customer,
            data={"submissions": list(full_ids)},
        )
    return full_ids
