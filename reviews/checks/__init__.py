"""Machine checks of a verification submission: evidence for the reviewer, never a decision.

- ``ocr``: reads the ID card's front and back (rapidocr-onnxruntime, PP-OCRv4 models
  shipped in its wheel) into lines of text.
- ``identity``: finds the card's fields in those lines and compares each with what the
  customer typed and what the ID number encodes; age; the document's validity period.
- ``face``: the distance between the card's portrait and the face in the handheld photo
  (dlib's ResNet embeddings from ``face-recognition-models``), in bands.
- ``runner``: all of it for one submission's photos, with timings. It reads and
  computes only; ``reviews.services.checks`` records the result.
- ``specimen``: ID cards drawn with a CJK font, for the demo, the tests and the bench.

Models are loaded once per process, on first use, and kept.
"""
