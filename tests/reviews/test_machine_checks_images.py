"""Machine checks on real pixels: the OCR and face models themselves, once per test process.

The card is drawn with a CJK font, then photographed (turned, blurred, given glare,
JPEG-compressed); the faces are real photographs: the group photo of six people that
the insightface wheel ships (installed for tests only, from requirements-test-images.txt,
and read from disk without importing the package).
"""

import datetime
import importlib.util
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from reviews import photos, selectors, services
from reviews.checks import face, specimen
from reviews.models import MachineCheck
from tests.images import resident_id

pytestmark = pytest.mark.django_db

NUMBER = resident_id(region="110105", birth="19900307", sequence="123")


def insightface_image(name: str) -> Image.Image:
    spec = importlib.util.find_spec("insightface")
    assert spec is not None, "insightface (requirements-test-images.txt) must be installed for these tests"
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "images" / name
    return Image.open(path).convert("RGB")


def padded(image: Image.Image, box, pad=0.6) -> Image.Image:
    """The face in ``box`` with room around it, as a portrait is framed."""
    left, top, right, bottom = box
    width, height = right - left, bottom - top
    return image.crop(
        (int(left - width * pad), int(top - height * pad * 1.2), int(right + width * pad), int(bottom + height * pad))
    )


def rescaled(image: Image.Image, factor: float) -> Image.Image:
    return image.resize((int(image.width * factor), int(image.height * factor)), Image.Resampling.BICUBIC)


@pytest.fixture(scope="module")
def group():
    """The group photo and its detected faces (the models load here, once per process)."""
    image = insightface_image("t1.jpg")
    return image, face.faces(image)


@pytest.fixture(scope="module")
def portraits(group):
    image, found = group
    return [padded(image, person.box) for person in found[:2]]


def upload(image: Image.Image, name: str):
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


def test_dlib_finds_the_six_people_and_tells_them_apart_but_not_a_face_from_its_rescaled_copy(group, settings):
    image, found = group
    assert len(found) == 6
    bands = {
        "same_max": settings.FACE_MATCH_SAME_MAX_DISTANCE,
        "different_min": settings.FACE_MATCH_DIFFERENT_MIN_DISTANCE,
    }
    between_people = [face.distance(a, b) for i, a in enumerate(found) for b in found[i + 1 :]]
    assert min(between_people) > 0.55
    assert {face.band(d, **bands) for d in between_people} <= {"different", "unsure"}
    assert sum(face.band(d, **bands) == "different" for d in between_people) >= 13  # of 15 pairs
    for person in found[:2]:
        crop = padded(image, person.box)
        again = face.faces(rescaled(crop, 2 / 3))
        assert len(again) == 1
        distance = face.distance(person, again[0])
        assert distance < 0.2
        assert face.band(distance, **bands) == "same"


def test_a_photographed_card_is_read_and_a_differing_typed_name_is_flagged(
    submit, portraits, client, reviewer, english
):
    front = specimen.card_front(
        name="张伟明",
        sex="男",
        ethnicity="汉",
        birth_date=datetime.date(1990, 3, 7),
        address="北京市朝阳区建国路88号院3号楼2单元101室",
        id_number=NUMBER,
        portrait=portraits[0],
    )
    back = specimen.card_back(
        authority="北京市公安局朝阳分局", valid_from=datetime.date(2006, 3, 7), valid_until=datetime.date(2026, 3, 7)
    )
    photo_set = services.PhotoSet(
        id_front=photos.process_photo(
            upload(specimen.photographed(front, angle=3, blur=1.2, glare=0.4, quality=60), "front.jpg"), kind="id_front"
        ),
        id_back=photos.process_photo(
            upload(specimen.photographed(back, angle=-2, blur=1.0, quality=60), "back.jpg"), kind="id_back"
        ),
        id_handheld=photos.process_photo(
            upload(specimen.handheld(rescaled(portraits[0], 2 / 3), front), "handheld.jpg"), kind="id_handheld"
        ),
    )
    submission = submit(full_name="张伟民", id_number=NUMBER, photos=photo_set)  # typed 民, the card says 明

    check = services.machine_check_run(check_id=submission.machine_check.pk)

    assert check.status == MachineCheck.Status.DONE
    assert check.fields["name"] == {"outcome": "mismatch", "read": "张伟明", "against": "typed"}
    for key in ("id_number", "sex", "birth_date", "address"):
        assert check.fields[key]["outcome"] == "match", (key, check.fields[key])
    assert check.fields["birth_date"]["read"] == "1990-03-07"
    assert check.fields["authority"]["read"] == "北京市公安局朝阳分局"
    assert (check.document_expiry, check.document_valid_until) == ("expired", datetime.date(2026, 3, 7))
    assert check.face_band == "same", check.face_distance
    assert selectors.machine_check_suggested_reasons(check) == ["INFO_MISMATCH", "DOC_EXPIRED"]

    client.force_login(reviewer)
    page = client.get(reverse("reviews:review", args=[submission.pk])).content.decode()
    assert 'data-field="name" data-outcome="mismatch"' in page
    assert "张伟明" in page


def test_someone_else_holding_the_card_is_a_different_person(portraits):
    front = specimen.card_front(
        name="李娜",
        sex="女",
        ethnicity="汉",
        birth_date=datetime.date(1992, 5, 1),
        address="上海市浦东新区世纪大道100号",
        id_number=resident_id(region="310115", birth="19920501", sequence="124"),
        portrait=portraits[0],
    )
    on_card = face.faces(specimen.photographed(front, angle=2, blur=0.8))
    holder = face.faces(specimen.handheld(portraits[1], front))
    assert on_card and holder
    distance = face.distance(on_card[0], holder[0])
    assert face.band(distance, same_max=0.5, different_min=0.6) == "different", distance
