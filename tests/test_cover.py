"""Cover art: generated and user covers, show artwork checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from audiobook.cover import MAX_COVER_BYTES, check_artwork, make_cover, make_show_art
from audiobook.errors import FeedError, InputError
from audiobook.models import Metadata

META = Metadata(
    title="The Letter I Never Sent: A Very Long Title That Should Wrap Over Several Lines & More",
    authors=("Alec_Fan_99",),
    fandoms=("Shadowhunters (TV)",),
)


def _check_cover(path: Path, size: int = 1400) -> Image.Image:
    assert path.stat().st_size < MAX_COVER_BYTES
    image = Image.open(path)
    assert image.format == "JPEG"
    assert image.mode == "RGB"
    assert image.size == (size, size)
    return image


def test_generated_cover(tmp_path):
    out = make_cover(META, tmp_path / "a.jpg")
    assert out == tmp_path / "a.jpg"
    image = _check_cover(out)
    # Not a blank canvas: text and decorations in several colours.
    assert len(image.getcolors(maxcolors=1_000_000)) > 10
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


def test_generated_cover_is_deterministic_and_title_dependent(tmp_path):
    a = make_cover(META, tmp_path / "a.jpg").read_bytes()
    b = make_cover(META, tmp_path / "b.jpg").read_bytes()
    assert a == b
    other = Metadata(title="Another Story", authors=("Alec_Fan_99",))
    c = make_cover(other, tmp_path / "c.jpg")
    assert c.read_bytes() != a
    # Colours come from the title: the corner pixel differs.
    assert Image.open(tmp_path / "a.jpg").getpixel((5, 5)) != Image.open(c).getpixel((5, 5))


def test_huge_title_and_unicode_still_fit(tmp_path):
    meta = Metadata(title="Word " * 200 + "💜 ünïcödé", authors=("x" * 300,))
    _check_cover(make_cover(meta, tmp_path / "long.jpg"))


def test_user_cover_non_square_rgba_png_is_fixed(tmp_path):
    src = tmp_path / "wide.png"
    image = Image.new("RGBA", (900, 300), (0, 0, 255, 0))
    image.paste((255, 0, 0, 255), (300, 0, 600, 300))  # opaque red square in the middle
    image.save(src)
    out = make_cover(Metadata(title="T", cover=src), tmp_path / "c.jpg")
    fixed = _check_cover(out)
    r, g, b = fixed.getpixel((700, 700))
    assert r > 200 and g < 60 and b < 60  # centre crop kept the red middle


def test_user_cover_big_noisy_photo_stays_under_limit(tmp_path):
    src = tmp_path / "noise.jpg"
    Image.effect_noise((3000, 2000), 120).convert("RGB").save(src, quality=100)
    _check_cover(make_cover(Metadata(title="T", cover=src), tmp_path / "c.jpg"))


def test_user_cover_is_deterministic(tmp_path):
    src = tmp_path / "p.png"
    Image.new("RGB", (500, 800), (10, 200, 30)).save(src)
    meta = Metadata(title="T", cover=src)
    assert make_cover(meta, tmp_path / "1.jpg").read_bytes() == make_cover(meta, tmp_path / "2.jpg").read_bytes()


def test_corrupt_or_missing_cover_is_input_error(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    with pytest.raises(InputError) as info:
        make_cover(Metadata(title="T", cover=bad), tmp_path / "c.jpg")
    assert info.value.path == str(bad)
    assert "image" in info.value.message
    with pytest.raises(InputError, match="no such image"):
        make_cover(Metadata(title="T", cover=tmp_path / "missing.png"), tmp_path / "c.jpg")
    assert not (tmp_path / "c.jpg").exists()


def test_show_art(tmp_path):
    out = make_show_art("My Podfic & Co", "Someone", tmp_path / "show.jpg")
    _check_cover(out)
    assert make_show_art("My Podfic & Co", "Someone", tmp_path / "again.jpg").read_bytes() == out.read_bytes()
    _check_cover(make_show_art("Big", "Someone", tmp_path / "big.jpg", size=3000), size=3000)


def test_check_artwork_accepts_good_image_as_is(tmp_path):
    good = tmp_path / "good.png"
    Image.new("RGB", (1600, 1600), (1, 2, 3)).save(good)
    assert check_artwork(good, tmp_path / "fixed.jpg") == good
    assert not (tmp_path / "fixed.jpg").exists()


@pytest.mark.parametrize(
    "size, mode, fmt, expected",
    [
        ((2000, 1500), "RGB", "JPEG", 1500),
        ((4000, 4000), "RGB", "PNG", 3000),
        ((1000, 1000), "RGBA", "PNG", 1400),
        ((1500, 1500), "L", "PNG", 1500),
        ((1500, 1500), "RGB", "WEBP", 1500),
    ],
)
def test_check_artwork_fixes_bad_image(tmp_path, size, mode, fmt, expected):
    expected = max(expected, 1400)
    src = tmp_path / f"in.{fmt.lower()}"
    Image.new(mode, size).save(src, fmt)
    out = check_artwork(src, tmp_path / "fixed.jpg")
    assert out == tmp_path / "fixed.jpg"
    image = Image.open(out)
    assert image.format == "JPEG" and image.mode == "RGB"
    assert image.size == (expected, expected)


def test_check_artwork_errors(tmp_path):
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (100, 100)).save(tiny)
    with pytest.raises(FeedError, match="100x100") as info:
        check_artwork(tiny, tmp_path / "f.jpg")
    assert info.value.path == str(tiny)
    junk = tmp_path / "junk.png"
    junk.write_text("hello")
    with pytest.raises(FeedError, match="--image"):
        check_artwork(junk, tmp_path / "f.jpg")


def _jfif_density(path: Path) -> tuple[int, int, int]:
    """(units, x density, y density) read from the JFIF APP0 segment's bytes (units 1: dpi)."""
    data = path.read_bytes()
    assert data[:4] == b"\xff\xd8\xff\xe0" and data[6:11] == b"JFIF\0", "no JFIF APP0 segment first"
    return data[13], int.from_bytes(data[14:16], "big"), int.from_bytes(data[16:18], "big")


def test_artwork_jpegs_carry_a_72_dpi_density(tmp_path):
    photo = tmp_path / "photo.png"
    Image.new("RGBA", (900, 700), (10, 200, 30, 128)).save(photo)
    written = [
        make_cover(META, tmp_path / "generated.jpg"),
        make_cover(Metadata(title="T", cover=photo), tmp_path / "user.jpg"),
        make_show_art("Show", "Author", tmp_path / "show.jpg"),
        check_artwork(photo, tmp_path / "fixed.jpg"),
    ]
    for path in written:
        assert _jfif_density(path) == (1, 72, 72), path.name
        assert Image.open(path).info["dpi"] == pytest.approx((72, 72))
