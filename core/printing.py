"""Printable pages with Pillow only (no PDF library): CJK fonts from Debian's fonts-noto-cjk,
A4 at 150 dpi, written as PDF by Pillow."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

A4_PX = (1240, 1754)  # A4 at 150 dpi
FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  # Debian fonts-noto-cjk
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in FONT_CANDIDATES:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    return ImageFont.load_default(size)


def text_pdf(title: str, lines: list[str], *, footer: str = "") -> bytes:
    """A4 pages: the title on each, then the lines (monospaced layout is the caller's), as
    one PDF. A line starting with `## ` is a section heading."""
    width, height = A4_PX
    margin, title_font, head_font, body_font = 70, font(34), font(26), font(22)
    step = 32
    pages: list[Image.Image] = []
    remaining = list(lines) or [""]
    while remaining:
        page = Image.new("RGB", A4_PX, "white")
        draw = ImageDraw.Draw(page)
        draw.text((margin, margin), title, "black", title_font)
        y = margin + 70
        while remaining and y < height - margin - 40:
            line = remaining.pop(0)
            if line.startswith("## "):
                y += 10
                draw.text((margin, y), line[3:], "black", head_font)
                y += step + 8
            else:
                draw.text((margin + 10, y), line, (30, 30, 30), body_font)
                y += step
        if footer:
            draw.text((margin, height - margin), footer, (110, 110, 110), body_font)
        pages.append(page)
    buffer = io.BytesIO()
    pages[0].save(buffer, format="PDF", resolution=150.0, save_all=True, append_images=pages[1:])
    return buffer.getvalue()
