"""Photos of cases, kept on disk under their SHA-256 so that a file can always be checked
against the hash the database holds, and the same photo is stored once."""
from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from .errors import InvalidField

MAX_PHOTO_BYTES = 5 * 1024 * 1024
MAX_PHOTOS = 6
# Recognised by their first bytes, not by the name the browser sends.
SIGNATURES = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}


def _decodes(content: bytes, content_type: str) -> bool:
    """The whole file is an image of the type its first bytes claim (Pillow reads it through),
    not a script behind a JPEG signature."""
    try:
        with Image.open(io.BytesIO(content)) as image:
            image.verify()
            return Image.MIME.get(image.format or "") == content_type
    except (OSError, SyntaxError, ValueError):
        return False


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
            if content_type is None or not _decodes(content, content_type):
                raise InvalidField("photos", f"photo {number} is not a JPEG or PNG image")
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
