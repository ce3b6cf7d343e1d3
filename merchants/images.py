"""Photo decoding and re-encoding (pure; runs in a worker thread).

Every upload is decoded for real with Pillow, checked for size in pixels before the pixels are
decoded (a small file can unpack to gigabytes), rotated per its EXIF orientation, then written
anew without EXIF (GPS positions, camera serials) and with a thumbnail.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000  # e.g. 8000×5000; bigger is a decompression bomb for our purposes
THUMBNAIL_SIZE = 320
# Pillow format -> (content type, file extension)
FORMATS: dict[str, tuple[str, str]] = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}


class ImageRejected(ValueError):
    """The bytes are not an acceptable image; the message says why."""


@dataclass(frozen=True)
class ProcessedImage:
    content_type: str
    extension: str
    width: int
    height: int
    data: bytes
    thumbnail: bytes


def _encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        image.save(out, "JPEG", quality=85, optimize=True)
    elif fmt == "WEBP":
        image.save(out, "WEBP", quality=85)
    else:
        image.save(out, "PNG", optimize=False)
    return out.getvalue()


def process_image(data: bytes) -> ProcessedImage:
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageRejected(f"the file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data))
            fmt = image.format or ""
            if fmt not in FORMATS:
                raise ImageRejected("only JPEG, PNG and WebP images are accepted")
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ImageRejected(f"the image has more than {MAX_PIXELS} pixels")
            image.load()
            image = ImageOps.exif_transpose(image) or image
    except ImageRejected:
        raise
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
    ) as exc:
        raise ImageRejected("the file is not a readable image") from exc
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    content_type, extension = FORMATS[fmt]
    thumb = image.copy()
    thumb.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    return ProcessedImage(
        content_type=content_type,
        extension=extension,
        width=image.width,
        height=image.height,
        data=_encode(image, fmt),
        thumbnail=_encode(thumb, fmt),
    )
