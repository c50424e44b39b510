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
import warnings
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from .errors import FeedError, InputError
from .models import Metadata
from .paths import NotRegularFile, open_regular

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


# Decoded, a pixel takes 4 bytes (Pillow keeps RGB as RGBX): 40 MP is 160 MB, within the
# 300 MB a render may take. Photos of any camera fit; a bigger JPEG is decoded scaled down.
MAX_PIXELS = 40_000_000


def _open(path: Path, error: type, what_to_do: str, *, side: int | None = None) -> Image.Image:
    """The image at `path`, decoded, in its EXIF orientation; its `format` kept.

    Everything is checked before pixels are decoded: a regular file (a FIFO would block),
    an image Pillow knows, at most MAX_PIXELS. With `side`, the caller wants a square of
    that many pixels: a JPEG is decoded at 1/2, 1/4 or 1/8 scale when that is still
    enough, and the image comes back as its centred square, shrunk by a whole factor to
    no less than `side` (one small copy, not a full-size crop and conversion)."""
    path = Path(path)
    try:
        handle = open_regular(path)
    except FileNotFoundError:
        raise error(f"no such image file; {what_to_do}", path) from None
    except NotRegularFile as exc:
        raise error(f"is {exc.kind}, not an image file; {what_to_do}", path) from None
    except OSError as exc:
        raise error(f"cannot read the image ({exc.strerror or exc}); {what_to_do}", path) from None
    try:
        with handle:
            with warnings.catch_warnings():
                # Pillow's own warning (past 89 MP) would reach the terminal; MAX_PIXELS, lower, is checked below
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                opened = Image.open(handle)
            with opened as image:   # header read, nothing decoded yet
                fmt = image.format
                if side is not None and fmt == "JPEG":
                    image.draft(image.mode, (side, side))
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise error(
                        f"image is {width}x{height} px ({width * height / 1e6:.0f} megapixels; at most "
                        f"{MAX_PIXELS // 1_000_000} are read); scale it down, or {what_to_do}", path,
                    )
                image.load()
                if side is not None:
                    image = _centre_reduced(image, side)
                ImageOps.exif_transpose(image, in_place=True)   # (no copy when it is upright already)
                image.format = fmt
    except Image.DecompressionBombError:   # past Pillow's own hard limit (179 MP), refused on opening
        raise error(f"image has far too many pixels (at most {MAX_PIXELS // 1_000_000} megapixels are read); scale it down, or {what_to_do}", path) from None
    except UnidentifiedImageError:
        raise error(f"not an image Pillow can read; {what_to_do}", path) from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:   # a damaged file: Pillow's decoders raise all of these
        raise error(f"cannot read the image ({' '.join(str(exc).split()) or type(exc).__name__}); {what_to_do}", path) from None
    return image


STRIP_PIXELS = 2_000_000   # _centre_reduced shrinks a big image this many pixels at a time


def _centre_reduced(image: Image.Image, side: int) -> Image.Image:
    """The centred square of a loaded `image`, shrunk by a whole factor to no less than
    `side` px (or as it is, if smaller). Cut and shrunk a strip at a time: Pillow converts
    an image with alpha to premultiplied form to shrink it, a full-size copy were it done
    whole. Palette and 16-bit images cannot be averaged: every factor-th pixel is kept
    (the final resize to `side` smooths them)."""
    width, height = image.size
    square = min(width, height)
    left, top = (width - square) // 2, (height - square) // 2
    factor = max(1, square // side)
    if image.mode in ("1", "P", "PA") or image.mode.startswith("I;16"):
        return image.resize((square // factor,) * 2, Image.Resampling.NEAREST, box=(left, top, left + square, top + square))
    rows = factor * max(1, STRIP_PIXELS // (square * factor))   # whole blocks of `factor` rows
    out = Image.new(image.mode, (-(-square // factor),) * 2)
    for y in range(0, square, rows):
        strip = image.crop((left, top + y, left + square, top + min(square, y + rows)))   # (reduce's box= would convert it all)
        out.paste(strip.reduce(factor), (0, y // factor))
    out.info = dict(image.info)   # the EXIF orientation goes along
    return out


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


def cover_jpeg(meta: Metadata) -> bytes:
    """The episode cover for `meta`: a 1400x1400 RGB JPEG under 500 KB.

    Uses meta.cover (any image Pillow reads, centre-cropped to a square) if set, otherwise
    draws one from the title, author and fandom. Raises InputError for an unusable image.
    """
    if meta.cover is not None:
        where = f"the cover set in {meta.sidecar.name}" if meta.sidecar else "the cover"
        image = _open(Path(meta.cover), InputError, f"fix {where} or remove it to get a generated cover", side=COVER_SIZE)
        image = _square(image, COVER_SIZE)
    else:
        below = [f"by {meta.author}" if meta.author else "", meta.fandom]
        image = _draw_art(meta.title, below, COVER_SIZE)
    return _jpeg_bytes(image)


def make_cover(meta: Metadata, out: Path) -> Path:
    """Write the episode cover for `meta` (see cover_jpeg) to `out`."""
    return _write_atomic(cover_jpeg(meta), Path(out))


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
    image = _open(path, FeedError, "give a square JPEG or PNG of 1400-3000 px with --image")   # (whole: it may be used as it is)
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
