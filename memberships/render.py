"""Card pictures with Pillow: the merchant's design plus the member's name, number and a QR.

Phone resolution, card proportions (85.6 × 54 mm → 1080 × 680 px). Text uses Noto Sans CJK
(Debian fonts-noto-cjk) so Chinese renders; without it Pillow's own font is used (Latin only,
but the picture is still produced).
"""

from __future__ import annotations

import base64
import binascii
import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import qrcode
from PIL import Image, ImageDraw, ImageFont

from core import imaging
from core.i18n import localised

CARD_SIZE = (1080, 680)
LOGO_BOX = (160, 160)
MAX_SOURCE_PIXELS = 40_000_000  # refuse decompression bombs before decoding
DESIGN_FORMATS = ("PNG", "JPEG", "WEBP")
CJK_FONTS = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
)
# index of "Noto Sans CJK SC" (simplified Chinese glyph shapes) inside the collection
SC_FACE_INDEX = 2

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


class ImageInvalid(ValueError):
    """Not a usable design image (the message, `args[0]`, a `localised` text); `limit`: which
    of our budgets refused it, if one did."""

    def __init__(self, message: str, *, limit: dict[str, int] | None = None) -> None:
        super().__init__(message)
        self.limit = limit


@dataclass(frozen=True)
class CardArt:
    background_color: str
    text_color: str
    text_lines: list[str]
    background_image: bytes | None
    logo: bytes | None


@lru_cache(maxsize=16)
def font(size: int) -> Font:
    for path in CJK_FONTS:
        if path.exists():
            try:
                return ImageFont.truetype(str(path), size, index=SC_FACE_INDEX)
            except OSError:
                try:
                    return ImageFont.truetype(str(path), size)
                except OSError:
                    continue
    return ImageFont.load_default(size=size)


def _open(data: bytes, keep: tuple[int, int]) -> Image.Image:
    """Decode an uploaded design image: the format is checked from the header *before*
    decoding (only the PNG/JPEG/WebP plugins ever see the bytes, so no PostScript reaches
    Ghostscript), and the decoded size is bounded (core.imaging)."""
    try:
        image = imaging.open_bounded(
            data, formats=DESIGN_FORMATS, max_pixels=MAX_SOURCE_PIXELS, draft_to=keep
        )
    except imaging.ImageTooLarge as exc:
        raise ImageInvalid(exc.args[0], limit=exc.limit) from exc
    except imaging.ImageUnreadable as exc:
        raise ImageInvalid(
            localised(
                "请使用可读取的 PNG、JPEG 或 WebP 图片", "Use a readable PNG, JPEG or WebP image"
            )
        ) from exc
    return imaging.strip_metadata(image)


def _stored(data: bytes) -> Image.Image:
    # our own re-encoded PNGs, still opened with the PNG plugin only
    return Image.open(io.BytesIO(data), formats=["PNG"])


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=6)
    return out.getvalue()


def _cover(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Scale to fill `size` and crop the overflow, centred."""
    scale = max(size[0] / image.width, size[1] / image.height)
    resized = image.resize(
        (max(1, round(image.width * scale)), max(1, round(image.height * scale))),
        Image.Resampling.LANCZOS,
    )
    left = (resized.width - size[0]) // 2
    top = (resized.height - size[1]) // 2
    return resized.crop((left, top, left + size[0], top + size[1]))


def decode_upload(data_b64: str) -> bytes:
    """Base64 (or a data: URL) → bytes, refusing anything that is not base64."""
    if data_b64.startswith("data:"):
        data_b64 = data_b64.partition(",")[2]
    try:
        return base64.b64decode(data_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImageInvalid(
            localised("图片不是有效的 Base64 编码", "The image is not valid base64")
        ) from exc


def prepare_background(data: bytes) -> bytes:
    """An uploaded background, re-encoded as a PNG already cropped to the card."""
    return _png(_cover(_open(data, CARD_SIZE).convert("RGB"), CARD_SIZE))


def prepare_logo(data: bytes) -> bytes:
    image = _open(data, LOGO_BOX).convert("RGBA")
    image.thumbnail(LOGO_BOX, Image.Resampling.LANCZOS)
    return _png(image)


def _qr(data: str, size: int) -> Image.Image:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2)
    code.add_data(data)
    code.make(fit=True)
    image = code.make_image(fill_color="black", back_color="white").get_image().convert("RGB")
    return image.resize((size, size), Image.Resampling.NEAREST)


def _fit(draw: ImageDraw.ImageDraw, text: str, size: int, width: int) -> Font:
    """The largest font up to `size` in which `text` fits `width` pixels."""
    while size > 16 and draw.textlength(text, font=font(size)) > width:
        size -= 4
    return font(size)


def render_card(
    art: CardArt,
    *,
    program_name: str,
    tier_name: str,
    member_name: str,
    masked_number: str,
    qr_data: str,
) -> bytes:
    width, height = CARD_SIZE
    if art.background_image:
        card = _stored(art.background_image).convert("RGB")
        if card.size != CARD_SIZE:
            card = _cover(card, CARD_SIZE)
    else:
        card = Image.new("RGB", CARD_SIZE, art.background_color)
    draw = ImageDraw.Draw(card)
    margin = 56
    x = margin
    if art.logo:
        logo = _stored(art.logo).convert("RGBA")
        card.paste(logo, (margin, margin), logo)
        x = margin + logo.width + 28
    draw.text(
        (x, margin + 8),
        program_name,
        fill=art.text_color,
        font=_fit(draw, program_name, 60, width - x - 300),
    )
    tier_font = font(40)
    draw.text(
        (width - margin - draw.textlength(tier_name, font=tier_font), margin + 20),
        tier_name,
        fill=art.text_color,
        font=tier_font,
    )
    y = margin + 190
    for line in art.text_lines:
        draw.text((margin, y), line, fill=art.text_color, font=_fit(draw, line, 36, 640))
        y += 50
    qr_size = 250
    qr_left, qr_top = width - margin - qr_size, height - margin - qr_size
    card.paste(_qr(qr_data, qr_size), (qr_left, qr_top))
    draw.text(
        (margin, height - margin - 140),
        member_name,
        fill=art.text_color,
        font=_fit(draw, member_name, 52, qr_left - 2 * margin),
    )
    draw.text((margin, height - margin - 62), masked_number, fill=art.text_color, font=font(46))
    return _png(card)
