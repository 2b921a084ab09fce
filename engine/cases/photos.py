"""Photos of cases, kept on disk under their SHA-256 so that a file can always be checked
against the hash the database holds, and the same photo is stored once."""
from __future__ import annotations

import hashlib
import io
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ..errors import InvalidField

MAX_PHOTO_BYTES = 5 * 1024 * 1024
# Pixels, counted from the header before decoding: a 12-megapixel phone photo and three times
# more. Decoding one takes up to 4 bytes a pixel (160 MB at the limit), one photo at a time.
MAX_PHOTO_PIXELS = 40_000_000
MAX_PHOTOS = 6
# Recognised by their first bytes, not by the name the browser sends.
SIGNATURES = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}
FORMATS = ("JPEG", "PNG")  # the only decoders Pillow may try


def _refusal(content: bytes, content_type: str) -> str | None:
    """Why a photo is refused, or None. The whole file must decode as the image its first bytes
    claim (not a script behind a JPEG signature, not image data that is not zlib); its pixels are
    counted from the header before anything is decoded, so that a small file declaring a huge
    image (a decompression bomb) never reaches the decoder."""
    try:
        with Image.open(io.BytesIO(content), formats=FORMATS) as image:
            if Image.MIME.get(image.format or "") != content_type:
                return "is not a JPEG or PNG image"
            width, height = image.size
            if width * height > MAX_PHOTO_PIXELS:
                return f"has more than {MAX_PHOTO_PIXELS // 1_000_000} megapixels ({width}x{height})"
            image.verify()  # the chunks' checksums through to the end (PNG)
        with Image.open(io.BytesIO(content), formats=FORMATS) as image:
            image.load()  # and every pixel: verify() alone never inflates the image data
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own limit, above ours: a header it refuses to open is past ours too.
        return f"has more than {MAX_PHOTO_PIXELS // 1_000_000} megapixels"
    except (OSError, SyntaxError, ValueError, EOFError, zlib.error):
        return "is not a JPEG or PNG image"
    return None


@dataclass(frozen=True)
class StoredPhoto:
    sha256: str
    content_type: str
    size: int


class PhotoStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def check(self, photos: list[bytes]) -> list[tuple[bytes, str]]:
        """Each photo with its content type; a bad one is an error on the field `photos`."""
        if len(photos) > MAX_PHOTOS:
            raise InvalidField("photos", f"at most {MAX_PHOTOS} photos")
        checked = []
        for number, content in enumerate(photos, start=1):
            if len(content) > MAX_PHOTO_BYTES:
                raise InvalidField("photos", f"photo {number} is larger than {MAX_PHOTO_BYTES // 1024 // 1024} MB")
            content_type = next((t for sig, t in SIGNATURES.items() if content.startswith(sig)), None)
            if content_type is None:
                raise InvalidField("photos", f"photo {number} is not a JPEG or PNG image")
            refusal = _refusal(content, content_type)
            if refusal is not None:
                raise InvalidField("photos", f"photo {number} {refusal}")
            checked.append((content, content_type))
        return checked

    def save(self, content: bytes, content_type: str) -> StoredPhoto:
        """Write the file (once per content) before the transaction that records it commits;
        a file whose transaction failed is an unreferenced copy, never a half-written one."""
        sha256 = hashlib.sha256(content).hexdigest()
        path = self.path(sha256)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".partial")
            partial.write_bytes(content)
            os.replace(partial, path)
        return StoredPhoto(sha256=sha256, content_type=content_type, size=len(content))

    def path(self, sha256: str) -> Path:
        return self.directory / sha256[:2] / sha256
