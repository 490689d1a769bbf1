"""CPU work done in C with the GIL released: SHA-256 over large buffers.

hashlib releases the GIL while it hashes more than 2 KiB (so do zlib, bz2,
and most NumPy), so threads of one process can hash on several cores at once,
unlike ``is_prime``'s pure-Python loop.

>>> sha256_megabytes(1)[:16]
'30e14955ebf13522'
"""

from __future__ import annotations

import hashlib

MEGABYTE = 1 << 20
#: Largest buffer one request may hash.
MAX_MB = 256

_zeros = memoryview(bytes(MAX_MB * MEGABYTE))  # zero pages: cheap until read


def sha256_megabytes(mb: int) -> str:
    """SHA-256 of ``mb`` MiB of zero bytes (hashed in C, GIL released)."""
    if not 0 <= mb <= MAX_MB:
        raise ValueError(f"mb must be in 0..{MAX_MB}, got {mb}")
    return hashlib.sha256(_zeros[: mb * MEGABYTE]).hexdigest()
