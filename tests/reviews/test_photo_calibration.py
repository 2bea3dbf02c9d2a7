"""The photo checks on a generated corpus: a good photo on any background passes, each bad one is caught (problem 5).

A smaller corpus than bench/photo_calibration.py's (one photo per background × light ×
focus instead of six), drawn at the checks' own 640 px so that it stays fast.
"""

import pytest
from PIL import Image

from reviews import photos
from tests.photo_corpus import corpus, photo

CAMERA_SIZE = (1600, 1200)


def rates(samples):
    good = [sample for sample in samples if sample.is_good]
    bad = [sample for sample in samples if not sample.is_good]
    warned = {
        sample: set(
            photos.quality_hints(photo(sample, 640, 480), kind="id_back", original_size=CAMERA_SIZE)["warnings"]
        )
        for sample in samples
    }
    passed = sum(not warned[sample] for sample in good) / len(good)
    caught = sum(sample.expected_warnings <= warned[sample] for sample in bad) / len(bad)
    return passed, caught, warned


@pytest.fixture(scope="module")
def small_corpus():
    return rates(corpus(variants=1))


def test_every_good_photo_passes_and_every_bad_one_is_caught(small_corpus):
    passed, caught, warned = small_corpus

    assert (passed, caught) == (1.0, 1.0), {sample.name: sorted(found) for sample, found in warned.items()}


def test_a_well_lit_card_on_white_paper_is_not_told_too_bright(small_corpus):
    _passed, _caught, warned = small_corpus

    on_white = [sample for sample in warned if sample.background == "white" and sample.is_good]
    assert on_white
    for sample in on_white:
        hints = photos.quality_hints(photo(sample, 640, 480), kind="id_back", original_size=CAMERA_SIZE)
        assert hints["brightness"] > 215  # what the old cut-off refused
        assert hints["warnings"] == []


def test_a_burnt_out_photo_is_told_too_bright_once_not_also_glare_or_black_and_white():
    white = Image.new("RGB", (640, 480), (255, 255, 255))

    warnings = photos.quality_hints(white, kind="id_back", original_size=CAMERA_SIZE)["warnings"]

    assert "too_bright" in warnings
    assert {"glare", "black_and_white"}.isdisjoint(warnings)
