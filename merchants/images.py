"""Photo decoding and re-encoding (pure; runs in a worker thread).

Every upload is decoded for real with Pillow within a memory budget checked before the pixels
are decoded (`core.imaging`: format allow-list, pixels and decoded bytes, JPEG draft), rotated
per its EXIF orientation, scaled to at most MAX_SIDE, then written anew with nothing but its
pixels (no EXIF, XMP, ICC, comments) and with a thumbnail.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps

from core import imaging
from core.i18n import localised

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000  # e.g. 8000×5000; bigger is a decompression bomb for our purposes
MAX_SIDE = 2560  # photos are kept at most this wide/high (phones show them far smaller)
THUMBNAIL_SIZE = 320
# Pillow format -> (content type, file extension)
FORMATS: dict[str, tuple[str, str]] = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}


class ImageRejected(ValueError):
    """The bytes are not an acceptable image; the message (`args[0]`, a `localised` text) says
    why, `limit` which of our budgets refused it (core.imaging.ImageTooLarge), if one did."""

    def __init__(self, message: str, *, limit: dict[str, int] | None = None) -> None:
        super().__init__(message)
        self.limit = limit


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
        megabytes = MAX_UPLOAD_BYTES // (1024 * 1024)
        raise ImageRejected(
            localised(f"文件超过 {megabytes} MB", f"The file is larger than {megabytes} MB")
        )
    try:
        image = imaging.open_bounded(
            data,
            formats=tuple(FORMATS),
            max_pixels=MAX_PIXELS,
            draft_to=(MAX_SIDE, MAX_SIDE),
        )
        fmt = image.format or ""
        image = ImageOps.exif_transpose(image) or image
    except imaging.ImageTooLarge as exc:
        raise ImageRejected(exc.args[0], limit=exc.limit) from exc
    except imaging.ImageUnreadable as exc:
        raise ImageRejected(
            localised(
                "只接受可读取的 JPEG、PNG 或 WebP 图片",
                "Only readable JPEG, PNG and WebP images are accepted",
            )
        ) from exc
    if image.width > MAX_SIDE or image.height > MAX_SIDE:
        image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    # no EXIF (GPS, serials), XMP, ICC, JPEG comment or PNG text survives the re-encoding
    image = imaging.strip_metadata(image)
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
