"""Give the models' freed working memory back to the system at once (glibc's malloc).

onnxruntime (rapidocr turns its CPU arena off) and dlib take each layer's activations
from malloc and free them after the layer. glibc serves a block over its mmap threshold
(128 KiB at start) with its own mapping, returned on free, but each time such a block
is freed it raises the threshold to that block's size (up to 32 MiB): from then on the
activations come from the heap, which fragments and keeps them. A worker running the
checks then peaked at 505–526 MB and kept 300–490 MB resident between submissions.

A fixed threshold (``mallopt(M_MMAP_THRESHOLD)``) turns that raising off for the whole
process. At 2 MiB the text detector's activations (several MB each on a 1024-pixel copy)
are mapped and returned, while smaller blocks (Python's objects, Django's, the
recogniser's small tensors) come from the heap as before: the same worker peaks at
about 400 MB and keeps about 250 MB. A lower threshold (glibc's own 128 KiB) saved
5–10 MB more at the cost of twice the page faults (about 0.1 s of CPU per submission).
Measured in bench/machine_checks.py; docs/PERFORMANCE.md, section 7.
"""

import ctypes
import platform
import threading

M_MMAP_THRESHOLD = -3  # from glibc's <malloc.h>
MMAP_THRESHOLD_BYTES = 2 * 1024 * 1024

_result: bool | None = None
_lock = threading.Lock()


def fix_mmap_threshold() -> bool:
    """Fix glibc's mmap threshold for this process (once); False where the C library is not glibc."""
    global _result
    with _lock:
        if _result is None:
            _result = False
            if platform.libc_ver()[0] == "glibc":
                libc = ctypes.CDLL(None)
                libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
                _result = bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    return _result
