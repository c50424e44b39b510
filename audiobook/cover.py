"""Cover art: episode covers (square JPEG, 1400 px, < 500 KB) and podcast show artwork.

A user's image is cropped to a centred square; without one, a cover is drawn from the
title, author and fandom in colours derived from the title (same input, same bytes).

Pillow lives here and nowhere else.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import os
import uuid
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from .errors import FeedError, InputError
from .models import Metadata

COVER_SIZE = 1400
MAX_COVER_BYTES = 500 * 1024
SHOW_MIN, SHOW_MAX = 1400, 3000
# A show image smaller than this is too blurry to scale up to 1400 px: ask for a better one.
SHOW_UPSCALE_LIMIT = 700


def _write_atomic(data: bytes, out: Path) -> Path:
    """Write `data` to a temporary name next to `out`, then rename it over `out`."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:12]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def _jpeg_bytes(image: Image.Image, limit: int = MAX_COVER_BYTES) -> bytes:
    """Encode as baseline RGB JPEG at 72 dpi, lowering quality until it is under `limit` bytes."""
    data = b""
    for quality in (90, 85, 80, 75, 70, 60, 50, 40, 30):
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality, optimize=True, dpi=(72, 72))   # JFIF density: 72 dpi, as artwork specs expect
        data = buffer.getvalue()
        if len(data) <= limit:
            break
    return data


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any mode -> RGB; transparency is flattened onto white."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _open(path: Path, error: type, what_to_do: str) -> Image.Image:
    path = Path(path)
    try:
        with Image.open(path) as image:
            image.load()
            fmt = image.format
            image = ImageOps.exif_transpose(image)
            image.format = fmt
    except FileNotFoundError:
        raise error(f"no such image file; {what_to_do}", path) from None
    except IsADirectoryError:
        raise error(f"is a folder, not an image; {what_to_do}", path) from None
    except UnidentifiedImageError:
        raise error(f"not an image Pillow can read; {what_to_do}", path) from None
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise error(f"cannot read the image ({exc}); {what_to_do}", path) from None
    return image


def _square(image: Image.Image, size: int) -> Image.Image:
    return ImageOps.fit(_to_rgb(image), (size, size), Image.Resampling.LANCZOS, centering=(0.5, 0.5))


def _palette(seed: str) -> tuple[tuple[int, int, int], tuple[int, int, int], tuple[int, int, int]]:
    """Background, accent and text colours from a hash of `seed`: deep, saturated, readable."""
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    hue = digest[0] / 255
    accent_hue = (hue + 0.08 + digest[1] / 255 * 0.15) % 1.0

    def rgb(h: float, lightness: float, saturation: float) -> tuple[int, int, int]:
        r, g, b = colorsys.hls_to_rgb(h, lightness, saturation)
        return int(r * 255), int(g * 255), int(b * 255)

    background = rgb(hue, 0.20 + digest[2] / 255 * 0.08, 0.45 + digest[3] / 255 * 0.25)
    accent = rgb(accent_hue, 0.62, 0.70)
    text = rgb(hue, 0.95, 0.30)
    return background, accent, text


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if not line or draw.textlength(candidate, font=font) <= width:
            line = candidate
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    return lines


def _fit_lines(draw, text: str, width: int, max_height: int, sizes: range) -> tuple[ImageFont.FreeTypeFont, list[str]]:
    """The largest font size at which `text` wraps into `width` x `max_height`."""
    font = ImageFont.load_default(size=sizes[-1])
    lines = _wrap(draw, text, font, width)
    for size in sizes:
        font = ImageFont.load_default(size=size)
        lines = _wrap(draw, text, font, width)
        too_wide = any(draw.textlength(line, font=font) > width for line in lines)
        if not too_wide and len(lines) * size * 1.2 <= max_height:
            return font, lines
    # Smallest size and still too long: cut the title with an ellipsis.
    max_lines = max(1, int(max_height // (sizes[-1] * 1.2)))
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1].rstrip(".,;: ") + "…"
    return font, lines


def _draw_art(title: str, lines_below: list[str], size: int) -> Image.Image:
    background, accent, ink = _palette(title)
    image = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(image)
    unit = size / 1400
    margin = int(120 * unit)
    width = size - 2 * margin

    # A frame and a band in the accent colour.
    draw.rectangle([margin // 2, margin // 2, size - margin // 2, size - margin // 2], outline=accent, width=max(2, int(10 * unit)))
    band_y = int(size * 0.64)
    draw.rectangle([margin, band_y, size - margin, band_y + max(2, int(12 * unit))], fill=accent)

    title_font, title_lines = _fit_lines(
        draw, title.strip() or "Untitled", width, int(size * 0.46), range(int(150 * unit), int(48 * unit), -int(6 * unit) or -1)
    )
    line_height = title_font.size * 1.2
    y = band_y - int(40 * unit) - line_height * len(title_lines)
    y = max(y, margin)
    for line in title_lines:
        draw.text((size / 2, y), line, font=title_font, fill=ink, anchor="ma")
        y += line_height

    small = ImageFont.load_default(size=int(64 * unit))
    y = band_y + int(70 * unit)
    for text in lines_below:
        if not text:
            continue
        for line in _wrap(draw, text, small, width)[:2]:
            draw.text((size / 2, y), line, font=small, fill=accent if text == lines_below[0] else ink, anchor="ma")
            y += small.size * 1.25
        y += int(20 * unit)
    return image


def make_cover(meta: Metadata, out: Path) -> Path:
    """Write the episode cover for `meta` to `out` (1400x1400 RGB JPEG under 500 KB).

    Uses meta.cover (any image Pillow reads, centre-cropped to a square) if set, otherwise
    draws one from the title, author and fandom. Raises InputError for an unusable image.
    """
    if meta.cover is not None:
        where = f"the cover set in {meta.sidecar.name}" if meta.sidecar else "the cover"
        image = _open(Path(meta.cover), InputError, f"fix {where} or remove it to get a generated cover")
        image = _square(image, COVER_SIZE)
    else:
        below = [f"by {meta.author}" if meta.author else "", meta.fandom]
        image = _draw_art(meta.title, below, COVER_SIZE)
    return _write_atomic(_jpeg_bytes(image), Path(out))


def make_show_art(title: str, author: str, out: Path, *, size: int = SHOW_MIN) -> Path:
    """Draw podcast show artwork (square RGB JPEG, `size` px) for a feed without an image."""
    if not SHOW_MIN <= size <= SHOW_MAX:
        raise ValueError(f"show art must be {SHOW_MIN}-{SHOW_MAX} px, not {size}")
    image = _draw_art(title, [f"by {author}" if author else "", "Podfic"], size)
    return _write_atomic(_jpeg_bytes(image), Path(out))


def check_artwork(path: Path, fixed: Path) -> Path:
    """Make sure `path` is valid show artwork: square, RGB, 1400-3000 px, JPEG or PNG.

    Returns `path` itself if it already is; otherwise writes a corrected JPEG to `fixed`
    (centre-cropped, scaled into range, flattened to RGB) and returns `fixed`.
    Raises FeedError if the image cannot be read or is too small to scale up.
    """
    path = Path(path)
    image = _open(path, FeedError, "give a square JPEG or PNG of 1400-3000 px with --image")
    width, height = image.size
    fmt = (image.format or "").upper()
    side = min(width, height)
    if side < SHOW_UPSCALE_LIMIT:
        raise FeedError(
            f"image is {width}x{height} px, too small for podcast apps; give a square JPEG or PNG of 1400-3000 px",
            path,
        )
    ok = width == height and SHOW_MIN <= width <= SHOW_MAX and image.mode == "RGB" and fmt in ("JPEG", "PNG")
    if ok:
        return path
    target = min(max(side, SHOW_MIN), SHOW_MAX)
    square = _square(image, target)
    return _write_atomic(_jpeg_bytes(square, limit=2 * MAX_COVER_BYTES), Path(fixed))
