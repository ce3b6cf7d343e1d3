"""Decoding untrusted images within a memory budget (shop photos, card designs).

A small file can decode to a huge image: a 300 KB 6300×6300 16-bit RGBA PNG is under a 40 MP
pixel cap yet cost ~440 MB, and four at once took the process from 0.6 to 2 GB (issue 17,
finding 5). So, before any pixel is decoded:

- the format is read from the header and must be on the caller's allow-list (Pillow would
  otherwise try every plugin it has; EPS/PostScript would run Ghostscript where installed);
- the decoded size is bounded in bytes (width × height × bytes per pixel of the mode Pillow will
  decode to, 16-bit modes counted as such), not only in pixels;
- JPEGs are decoded with `draft`, which lets libjpeg scale by 1/2..1/8 while decoding, so a
  large photo never exists in memory at full size when a smaller one is all we keep;
- decoding runs in a bounded pool (`decode_slots`): at most `DECODE_CONCURRENCY` images are in
  memory at once per process, whatever the number of uploads in flight.

Everything an image carries besides its pixels (EXIF, XMP, ICC, JPEG comments, PNG text) is
dropped: callers re-encode from `strip_metadata`'s result.
"""

from __future__ import annotations

import asyncio
import io
import warnings
from collections.abc import Callable
from typing import TypeVar

from PIL import Image, UnidentifiedImageError

from core.i18n import localised

T = TypeVar("T")

DECODE_CONCURRENCY = 2
MAX_DECODED_BYTES = 64 * 1024 * 1024  # e.g. 4000×4000 RGB(A), stored 4 bytes a pixel

# bytes per pixel of Pillow's in-memory modes (RGB is stored in 4 bytes like RGBA)
_MODE_BYTES = {"1": 1, "L": 1, "P": 1, "LA": 4, "PA": 4, "RGB": 4, "RGBA": 4, "RGBX": 4,
               "CMYK": 4, "YCbCr": 4, "LAB": 4, "HSV": 4, "I": 4, "F": 4, "I;16": 2,
               "I;16B": 2, "I;16L": 2, "I;16N": 2}  # fmt: skip


class ImageTooLarge(ValueError):
    """Refused by our own budget (before any pixel is decoded); `limit` names the budget
    exceeded and its value (`max_pixels` or `max_decoded_bytes`), for the client's problem.
    The message (`args[0]`, not `str(exc)`, which drops it) is a `localised` text."""

    def __init__(self, message: str, *, limit: dict[str, int]) -> None:
        super().__init__(message)
        self.limit = limit


class ImageUnreadable(ValueError):
    """Not an image of an allowed format; the message (`args[0]`) is a `localised` text."""


def decoded_bytes(mode: str, size: tuple[int, int]) -> int:
    """What decoding an image of this mode and size takes in memory."""
    return size[0] * size[1] * _MODE_BYTES.get(mode, 8)


def open_bounded(
    data: bytes,
    *,
    formats: tuple[str, ...],
    max_pixels: int,
    max_bytes: int = MAX_DECODED_BYTES,
    draft_to: tuple[int, int] | None = None,
) -> Image.Image:
    """Decode `data` if its header says it is one of `formats` and it fits the budget.

    `draft_to`: the size the caller will keep at most; a JPEG is decoded at the smallest scale
    still at least that large. Raises ImageUnreadable (not an image / wrong format) or
    ImageTooLarge (before any pixel is decoded).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # only the allowed plugins are consulted: nothing else ever parses the bytes
            image = Image.open(io.BytesIO(data), formats=list(formats))
            if image.format not in formats:
                kinds = "、".join(formats), ", ".join(formats)
                raise ImageUnreadable(
                    localised(f"请使用 {kinds[0]} 格式的图片", f"Use a {kinds[1]} image")
                )
            if image.format == "JPEG" and draft_to is not None:
                image.draft(image.mode, draft_to)  # the size below is then the reduced one
            if image.width * image.height > max_pixels:
                raise ImageTooLarge(
                    localised(
                        f"图片超过 {max_pixels:,} 像素",
                        f"The image has more than {max_pixels:,} pixels",
                    ),
                    limit={"max_pixels": max_pixels},
                )
            if decoded_bytes(image.mode, image.size) > max_bytes:
                megabytes = max_bytes // (1024 * 1024)
                raise ImageTooLarge(
                    localised(
                        f"图片解码后将超过 {megabytes} MB",
                        f"The image would take more than {megabytes} MB to decode",
                    ),
                    limit={"max_decoded_bytes": max_bytes},
                )
            image.load()
    except (ImageTooLarge, ImageUnreadable):
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
        raise ImageUnreadable(
            localised("文件不是可读取的图片", "The file is not a readable image")
        ) from exc
    return image


def strip_metadata(image: Image.Image) -> Image.Image:
    """The same pixels with nothing else: Pillow's encoders write back what `info` holds
    (JPEG comments, ICC profiles, XMP, PNG text), so it is emptied before re-encoding."""
    image.info = {}
    return image


_slots: dict[int, asyncio.Semaphore] = {}


def decode_slots() -> asyncio.Semaphore:
    """The per-event-loop pool of decoding slots."""
    loop = asyncio.get_running_loop()
    key = id(loop)
    if key not in _slots:
        _slots.clear()  # a new loop (tests, a restarted worker): the old one's slots are gone
        _slots[key] = asyncio.Semaphore(DECODE_CONCURRENCY)
    return _slots[key]


async def decode_in_pool(work: Callable[[bytes], T], data: bytes) -> T:
    """Run `work(data)` in a thread, at most DECODE_CONCURRENCY at a time in this process."""
    async with decode_slots():
        return await asyncio.to_thread(work, data)
