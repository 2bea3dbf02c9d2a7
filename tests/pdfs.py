"""Reading what a printed page shows: the QR code on a PDF page."""

import cv2
import numpy as np


def qr_code_text(page) -> str:
    """The text of the QR code on a pypdfium2 page, as a phone's camera would read it ("" if none).

    OpenCV's detector misses some codes at one resolution and reads them at another (a
    certificate number is random, so the code differs every run): it is given a few.
    """
    detector = cv2.QRCodeDetector()
    for scale in (3, 2, 4, 5):
        picture = np.asarray(page.render(scale=scale).to_pil().convert("L"))
        decoded, _points, _raw = detector.detectAndDecode(picture)
        if decoded:
            return decoded
    return ""
