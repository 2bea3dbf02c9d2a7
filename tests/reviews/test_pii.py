"""ID numbers at rest: encrypted, rotatable keys, masked for display, found by blind index."""

import io

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection

from reviews import pii
from reviews.models import Submission
from tests.factories import CustomerFactory
from tests.reviews.conftest import ID_NUMBER, NAME, resident_id

pytestmark = pytest.mark.django_db

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def raw_row(submission) -> dict:
    """The submission's row as the database holds it, bypassing the ORM."""
    table = connection.ops.quote_name(Submission._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE id = %s", [submission.pk])  # noqa: S608
        columns = [column[0] for column in cursor.description]
        return dict(zip(columns, cursor.fetchone(), strict=True))


def stored_token(submission) -> str:
    return raw_row(submission)["id_number_encrypted"]


def test_database_never_holds_the_plain_id_number(submit):
    submission = submit(id_number=ID_NUMBER)

    row = raw_row(submission)
    for column, value in row.items():
        assert ID_NUMBER not in str(value), column
        assert ID_NUMBER[6:14] not in str(value), column  # not even the birth date
    assert row["id_number_masked"] == "110105********" + ID_NUMBER[-4:]
    assert pii.decrypt(row["id_number_encrypted"]) == ID_NUMBER


def test_lowercase_x_and_spaces_are_normalised_before_encrypting_and_indexing(submit):
    number = resident_id(sequence="103")
    assert number.endswith("X")
    typed = f"{number[:6]} {number[6:14]} {number[14:].lower()}"

    submission = submit(id_number=typed)

    assert pii.decrypt(stored_token(submission)) == number
    assert submission.id_number_index == pii.id_number_blind_index(number)


def test_encrypt_decrypt_round_trip_and_fresh_ciphertext_each_time():
    first, second = pii.encrypt(ID_NUMBER), pii.encrypt(ID_NUMBER)
    assert first != second  # Fernet uses a random IV: equal IDs do not look equal at rest
    assert pii.decrypt(first) == pii.decrypt(second) == ID_NUMBER
    assert pii.decrypt("") == ""


def test_decrypting_with_a_key_that_is_gone_says_so(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    token = pii.encrypt(ID_NUMBER)
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS"):
        pii.decrypt(token)


def test_malformed_key_is_a_configuration_error(settings):
    settings.FIELD_ENCRYPTION_KEYS = ["not-a-fernet-key"]
    with pytest.raises(ImproperlyConfigured, match="Fernet"):
        pii.encrypt(ID_NUMBER)


def test_key_rotation_prepend_new_key_then_reencrypt_then_drop_old_key(settings, submit):
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    first = submit(id_number=ID_NUMBER)
    second = submit(id_number=resident_id(sequence="456"))
    before = {s.pk: stored_token(s) for s in (first, second)}

    # Step 1: the new key first; the old one still decrypts what is stored.
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    assert pii.decrypt(stored_token(first)) == ID_NUMBER
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    with pytest.raises(ImproperlyConfigured):
        pii.decrypt(stored_token(first))

    # Step 2: re-encrypt everything under the new key.
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    call_command("reencrypt_id_numbers", stdout=io.StringIO())

    # Step 3: the old key can go.
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    assert pii.decrypt(stored_token(first)) == ID_NUMBER
    assert pii.decrypt(stored_token(second)) == resident_id(sequence="456")
    assert all(stored_token(s) != before[s.pk] for s in (first, second))
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    with pytest.raises(ImproperlyConfigured):
        pii.decrypt(stored_token(first))


def test_reencrypt_command_reports_how_many_it_did(settings, submit, capsys):
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    submit()
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    call_command("reencrypt_id_numbers")
    assert "Re-encrypted 1 ID numbers" in capsys.readouterr().out


def test_masked_form_keeps_region_and_last_four():
    assert pii.mask_id_number("110105199001011234") == "110105********1234"
    assert pii.mask_id_number("11010519900101123x") == "110105********123X"
    assert pii.mask_id_number(" 110105 19900101 1234 ") == "110105********1234"
    assert pii.mask_id_number("12345") == "*****"


def test_mask_name_shows_only_the_first_character():
    assert pii.mask_name("张三丰") == "张**"
    assert pii.mask_name("阿依古丽·买买提") == "阿" + "*" * 7
    assert pii.mask_name("") == ""


def test_blind_index_is_the_same_for_the_same_id_on_different_accounts(submit):
    other_number = resident_id(sequence="456")
    first = submit(CustomerFactory(), id_number=ID_NUMBER)
    second = submit(CustomerFactory(), id_number=ID_NUMBER)
    third = submit(CustomerFactory(), id_number=other_number)

    assert first.id_number_index == second.id_number_index
    assert third.id_number_index != first.id_number_index
    assert ID_NUMBER not in first.id_number_index
    assert len(first.id_number_index) == 64
    same_id = Submission.objects.filter(id_number_index=pii.id_number_blind_index(ID_NUMBER))
    assert set(same_id.values_list("pk", flat=True)) == {first.pk, second.pk}


def test_blind_index_depends_on_the_secret_key(settings):
    index = pii.id_number_blind_index(ID_NUMBER)
    settings.BLIND_INDEX_KEY = "another-secret-for-the-blind-index"
    assert pii.id_number_blind_index(ID_NUMBER) != index


def test_full_name_is_stored_as_typed_for_the_reviewer(submit):
    assert submit(full_name=NAME).full_name == NAME
