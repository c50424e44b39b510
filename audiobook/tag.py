"""Stage: tag. An encoded MP3 + Episode -> ID3v2.3 tags (chapters, cover); and back again.
An M4B + Episode -> MP4 tags (title, author, album, cover; its chapters are ffmpeg's, see
master/m4b.py).

`write_tags` writes what phones and podcast apps read: ID3v2.3 at the start of the file,
text in UTF-16, one CHAP per chapter and exactly one CTOC listing them in play order.
`read_episode` is its inverse, used by the feed builder: it reads the tags, the stream
duration and the sidecars (`<stem>.jpg`, `<stem>.vtt`, `<stem>.chapters.json`).

mutagen lives here and nowhere else.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from mutagen import MutagenError
from mutagen.id3 import (
    APIC,
    CHAP,
    COMM,
    CTOC,
    ID3,
    TALB,
    TCON,
    TDRC,
    TIT2,
    TLAN,
    TPE1,
    TRCK,
    TXXX,
    USLT,
    WXXX,
    CTOCFlags,
    Encoding,
    ID3NoHeaderError,
    PictureType,
)
from mutagen.mp3 import MP3, HeaderNotFoundError
from mutagen.mp4 import MP4, MP4Cover

from .errors import FeedError, RenderError
from .models import Chapter, Episode

# ISO 639-1 (what sidecars say) -> ISO 639-2/B (what ID3 COMM/USLT/TLAN want).
ISO639_2 = {
    "ar": "ara", "bg": "bul", "ca": "cat", "cs": "cze", "cy": "wel", "da": "dan",
    "de": "ger", "el": "gre", "en": "eng", "eo": "epo", "es": "spa", "et": "est",
    "eu": "baq", "fa": "per", "fi": "fin", "fr": "fre", "ga": "gle", "he": "heb",
    "hi": "hin", "hr": "hrv", "hu": "hun", "id": "ind", "is": "ice", "it": "ita",
    "ja": "jpn", "ko": "kor", "la": "lat", "lt": "lit", "lv": "lav", "nb": "nob",
    "nl": "dut", "nn": "nno", "no": "nor", "pl": "pol", "pt": "por", "ro": "rum",
    "ru": "rus", "sk": "slo", "sl": "slv", "sr": "srp", "sv": "swe", "th": "tha",
    "tr": "tur", "uk": "ukr", "vi": "vie", "zh": "chi",
}
_ISO639_1 = {v: k for k, v in ISO639_2.items()}

TTS_NOTE = "Narrated by a text-to-speech voice (audiofic)."
# The last chapter may end this far from the decoded stream length (encoder padding,
# frame rounding); it is then snapped to the real end of the file.
END_TOLERANCE_MS = 1000

_UTF16 = Encoding.UTF16
_FEED_FIELDS = ("work", "work_title", "series_part", "part_title", "published", "rating", "show")


def language_code(language: str) -> str:
    """'en' / 'en-GB' / 'eng' -> the ISO 639-2 code ID3 wants ('eng'); 'und' if unknown."""
    base = (language or "").strip().lower().replace("_", "-").split("-")[0]
    if len(base) == 3 and base.isalpha():
        return base
    return ISO639_2.get(base, "und")


def default_comment(episode: Episode) -> str:
    """Summary, credit and the text-to-speech note, for the COMM frame."""
    parts = []
    if episode.summary.strip():
        parts.append(episode.summary.strip())
    credit = f"Written by {episode.author}."
    if episode.url:
        credit += f" Original work: {episode.url}"
    parts.append(credit)
    parts.append(TTS_NOTE)
    return "\n\n".join(parts)


def _mp3_length_ms(mp3: Path) -> int:
    try:
        info = MP3(mp3).info
    except (HeaderNotFoundError, MutagenError, OSError) as exc:
        raise RenderError(f"not a readable MP3 ({exc}); re-render the episode", mp3) from None
    return int(round(info.length * 1000))


def check_chapters(chapters: tuple[Chapter, ...] | list[Chapter], length_ms: int, where: Path) -> None:
    """Chapters must start at 0, be contiguous, and end at the end of the file."""
    previous_end = 0
    for index, chapter in enumerate(chapters):
        if chapter.start_ms != previous_end:
            what = "start at 0 ms" if index == 0 else f"start where chapter {index} ends ({previous_end} ms)"
            raise RenderError(
                f"chapter {index + 1} {chapter.title!r} starts at {chapter.start_ms} ms but must {what}; "
                "chapter marks must be contiguous",
                where,
            )
        if chapter.end_ms <= chapter.start_ms:
            raise RenderError(
                f"chapter {index + 1} {chapter.title!r} ends at {chapter.end_ms} ms, not after its start "
                f"({chapter.start_ms} ms); drop empty chapters",
                where,
            )
        previous_end = chapter.end_ms
    if chapters and abs(previous_end - length_ms) > END_TOLERANCE_MS:
        raise RenderError(
            f"chapters end at {previous_end} ms but the audio is {length_ms} ms long; "
            "the last chapter must end at the end of the file",
            where,
        )


def _latin1_url(url: str) -> str:
    """URL frames hold Latin-1: percent-encode anything else (an IRI becomes its URI)."""
    return quote(url, safe="".join(chr(c) for c in range(0x21, 0x7F)))


def write_tags(mp3: Path, episode: Episode, *, lyrics: str = "") -> None:
    """Replace the tags of the MP3 at `mp3` with ID3v2.3 tags describing `episode`.

    Raises RenderError if the file is not an MP3, the chapters are not contiguous from 0 to
    the end of the audio, or the cover cannot be read.
    """
    mp3 = Path(mp3)
    length_ms = _mp3_length_ms(mp3)
    check_chapters(episode.chapters, length_ms, mp3)
    language = language_code(episode.language)

    tags = ID3()
    tags.add(TIT2(encoding=_UTF16, text=[episode.title]))
    tags.add(TPE1(encoding=_UTF16, text=[episode.author]))
    tags.add(TALB(encoding=_UTF16, text=[episode.album or episode.title]))
    if episode.track is not None:
        tags.add(TRCK(encoding=_UTF16, text=[str(episode.track)]))
    tags.add(TCON(encoding=_UTF16, text=[episode.genre or "Audiobook"]))
    if episode.year is not None:
        tags.add(TDRC(encoding=_UTF16, text=[f"{episode.year:04d}"]))  # becomes TYER in v2.3
    tags.add(TLAN(encoding=_UTF16, text=[language]))
    tags.add(TXXX(encoding=_UTF16, desc="language", text=[episode.language]))
    tags.add(COMM(encoding=_UTF16, lang=language, desc="", text=[episode.comment or default_comment(episode)]))
    if episode.summary:
        tags.add(TXXX(encoding=_UTF16, desc="summary", text=[episode.summary]))
    if episode.url:
        tags.add(WXXX(encoding=_UTF16, desc="work", url=_latin1_url(episode.url)))
    if episode.source is not None:
        source = str(episode.source)
        tags.add(TXXX(encoding=_UTF16, desc="source", text=[source if "://" in source else Path(source).name]))
    for desc in _FEED_FIELDS:        # what the feed needs to order works and chapters (see Episode)
        value = getattr(episode, desc)
        if value not in ("", None):
            tags.add(TXXX(encoding=_UTF16, desc=desc, text=[str(value)]))
    if lyrics:
        tags.add(USLT(encoding=_UTF16, lang=language, desc="", text=lyrics))
    if episode.cover is not None:
        cover = Path(episode.cover)
        try:
            data = cover.read_bytes()
        except OSError as exc:
            raise RenderError(f"cannot read the cover image ({exc.strerror or exc}); check the file", cover) from None
        mime = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
        tags.add(APIC(encoding=_UTF16, mime=mime, type=PictureType.COVER_FRONT, desc="Cover", data=data))

    ids = []
    for index, chapter in enumerate(episode.chapters):
        element_id = f"chp{index}"
        ids.append(element_id)
        last = index == len(episode.chapters) - 1
        end = length_ms if last else chapter.end_ms
        tags.add(
            CHAP(
                element_id=element_id,
                start_time=chapter.start_ms,
                end_time=end,
                sub_frames=[TIT2(encoding=_UTF16, text=[chapter.title])],
            )
        )
    if ids:
        tags.add(
            CTOC(
                element_id="toc",
                flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED,
                child_element_ids=ids,
                sub_frames=[TIT2(encoding=_UTF16, text=[episode.title])],
            )
        )

    tags.update_to_v23()
    try:
        tags.save(mp3, v1=0, v2_version=3, v23_sep="/")
        if ids:
            _chapters_in_play_order(mp3, ids)
    except (MutagenError, OSError) as exc:
        raise RenderError(f"cannot write tags ({exc}); check the disk and permissions", mp3) from None


def _chapters_in_play_order(mp3: Path, ids: list[str]) -> None:
    """Put CTOC then the CHAP frames in play order inside the tag mutagen just wrote.

    mutagen sorts frames by size, so CHAP frames land in any order. The CTOC makes that
    harmless for Apple Podcasts, Overcast and BookPlayer, but readers that ignore it
    (ffmpeg and what is built on it) list chapters in file order. The tag keeps its size:
    the frames are only permuted, so the rewrite is one same-length write at offset 0.
    """
    with open(mp3, "r+b") as handle:
        header = handle.read(10)
        if len(header) < 10 or header[:3] != b"ID3" or header[3] != 3 or header[5] != 0:
            return  # not the plain v2.3 tag we wrote: leave it alone
        size = 0
        for byte in header[6:10]:
            size = (size << 7) | (byte & 0x7F)
        body = handle.read(size)
        frames: list[tuple[bytes, bytes]] = []
        offset = 0
        while offset + 10 <= len(body) and body[offset:offset + 4] != b"\0\0\0\0":
            length = int.from_bytes(body[offset + 4:offset + 8], "big")
            frames.append((body[offset:offset + 4], body[offset:offset + 10 + length]))
            offset += 10 + length
        padding = body[offset:]
        chapter_ids = {b"CHAP", b"CTOC"}
        marks = {}
        for frame_id, data in frames:
            if frame_id == b"CHAP":
                element = data[10:data.index(b"\0", 10)].decode("latin-1")
                marks[element] = data
        if set(marks) != set(ids):
            return
        block = [data for frame_id, data in frames if frame_id == b"CTOC"] + [marks[i] for i in ids]
        first = next(i for i, (frame_id, _) in enumerate(frames) if frame_id in chapter_ids)
        rest = [data for frame_id, data in frames if frame_id not in chapter_ids]
        ordered = rest[:first] + block + rest[first:]
        new_body = b"".join(ordered) + padding
        if len(new_body) != len(body):  # pragma: no cover - a permutation keeps the size
            return
        handle.seek(10)
        handle.write(new_body)


def _text(tags: ID3, key: str) -> str:
    frame = tags.get(key)
    if frame is None or not getattr(frame, "text", None):
        return ""
    return str(frame.text[0])


def _int(value: str) -> int | None:
    head = value.split("/")[0].strip()
    try:
        return int(head)
    except ValueError:
        return None


def _chapters(tags: ID3) -> tuple[Chapter, ...]:
    chaps = {frame.element_id: frame for frame in tags.getall("CHAP")}
    if not chaps:
        return ()
    tocs = tags.getall("CTOC")
    top = [t for t in tocs if t.flags & CTOCFlags.TOP_LEVEL] or tocs
    if top:
        order = [cid for cid in top[0].child_element_ids if cid in chaps]
    else:  # no table of contents: fall back to start times
        order = sorted(chaps, key=lambda cid: chaps[cid].start_time)
    chapters = []
    for cid in order:
        frame = chaps[cid]
        title_frame = frame.sub_frames.get("TIT2")
        title = str(title_frame.text[0]) if title_frame is not None and title_frame.text else cid
        chapters.append(Chapter(title=title, start_ms=frame.start_time, end_ms=frame.end_time))
    return tuple(chapters)


# What a file holds, by its first bytes, when it is not MPEG audio (and how to say so).
_MAGIC = ((4, b"ftyp", "MP4/AAC audio (an .m4a)"), (0, b"OggS", "Ogg audio"), (0, b"RIFF", "a WAV file"),
          (0, b"fLaC", "FLAC audio"), (0, b"\x1aE\xdf\xa3", "WebM/Matroska"))


def _not_mpeg(path: Path) -> str | None:
    """None if the file's audio starts with an MPEG audio frame (after any ID3v2 tag and zero
    padding); else what it seems to be. mutagen finds "frames" by searching, and in AAC data
    it finds false ones: an M4A renamed .mp3 read as MP3 gets a wrong duration and would be
    listed as audio/mpeg. Content decides, not the name."""
    with open(path, "rb") as f:
        head = f.read(10)
        for offset, magic, name in _MAGIC:
            if head[offset:offset + len(magic)] == magic:
                return name
        start = 0
        if head[:3] == b"ID3" and len(head) == 10:
            size = (head[6] & 0x7F) << 21 | (head[7] & 0x7F) << 14 | (head[8] & 0x7F) << 7 | (head[9] & 0x7F)
            start = 10 + size + (10 if head[5] & 0x10 else 0)   # (a footer, if flagged)
        f.seek(start)
        block = f.read(65536).lstrip(b"\0")
    if len(block) < 4:
        return "no audio"
    b0, b1, b2 = block[0], block[1], block[2]
    frame = b0 == 0xFF and b1 & 0xE0 == 0xE0 and b1 & 0x06 != 0 and b1 & 0x18 != 0x08 \
        and b2 >> 4 not in (0, 15) and (b2 >> 2) & 3 != 3
    if frame:
        return None
    for offset, magic, name in _MAGIC:
        if block[offset:offset + len(magic)] == magic:
            return name
    return "something other than MPEG audio"


def read_episode(mp3: Path) -> Episode:
    """Read an MP3 written by `write_tags` (or any tagged MP3) and its sidecars.

    Raises FeedError naming the file if it is not a readable MP3.
    """
    mp3 = Path(mp3)
    try:
        other = _not_mpeg(mp3)
        if other:
            raise FeedError(f"not an MP3 but {other} named .mp3; convert it to MP3 or remove it from the folder", mp3)
        audio = MP3(mp3)
    except (HeaderNotFoundError, MutagenError, OSError) as exc:
        raise FeedError(f"not a readable MP3 ({exc}); remove it from the folder or re-render it", mp3) from None
    try:
        tags = audio.tags if audio.tags is not None else ID3()
    except ID3NoHeaderError:  # pragma: no cover - MP3() already handles this
        tags = ID3()

    title = _text(tags, "TIT2") or mp3.stem
    language = _text(tags, "TXXX:language")
    if not language:
        code = _text(tags, "TLAN")
        language = _ISO639_1.get(code, code) or "en"
    comments = tags.getall("COMM")
    comment = str(comments[0].text[0]) if comments and comments[0].text else ""
    year = _int(_text(tags, "TDRC")[:4]) if _text(tags, "TDRC") else None
    urls = [f.url for f in tags.getall("WXXX")]
    source = _text(tags, "TXXX:source")

    def sidecar(suffix: str) -> Path | None:
        path = mp3.with_name(mp3.stem + suffix)
        return path if path.is_file() else None

    return Episode(
        path=mp3,
        title=title,
        author=_text(tags, "TPE1") or "Anonymous",
        album=_text(tags, "TALB"),
        track=_int(_text(tags, "TRCK")) if _text(tags, "TRCK") else None,
        duration_ms=int(round(audio.info.length * 1000)),
        chapters=_chapters(tags),
        summary=_text(tags, "TXXX:summary"),
        comment=comment,
        genre=_text(tags, "TCON") or "Audiobook",
        year=year,
        language=language,
        url=urls[0] if urls else "",
        cover=sidecar(".jpg"),
        transcript=sidecar(".vtt"),
        chapters_json=sidecar(".chapters.json"),
        source=(source if "://" in source else Path(source)) if source else None,
        work=_text(tags, "TXXX:work"),
        work_title=_text(tags, "TXXX:work_title"),
        series_part=_int(_text(tags, "TXXX:series_part")) if _text(tags, "TXXX:series_part") else None,
        part_title=_text(tags, "TXXX:part_title"),
        published=_text(tags, "TXXX:published"),
        rating=_text(tags, "TXXX:rating"),
        show=_text(tags, "TXXX:show"),
    )


def write_m4b_tags(m4b: Path, episode: Episode) -> None:
    """Tag an M4B for audiobook apps: title, author (artist and album artist), album, genre,
    year, comment, description, media kind "audiobook" (stik 2) and the front cover.

    The chapters ffmpeg wrote (a QuickTime chapter track and a Nero chpl box) stay as they are.
    """
    m4b = Path(m4b)
    try:
        audio = MP4(m4b)
    except (MutagenError, OSError) as exc:
        raise RenderError(f"not a readable M4B ({exc}); re-render it", m4b) from None
    if audio.tags is None:
        audio.add_tags()
    tags = audio.tags
    tags["\xa9nam"] = [episode.title]
    tags["\xa9ART"] = [episode.author]
    tags["aART"] = [episode.author]
    tags["\xa9alb"] = [episode.album or episode.title]
    tags["\xa9gen"] = [episode.genre or "Audiobook"]
    tags["\xa9cmt"] = [episode.comment or default_comment(episode)]
    tags["stik"] = [2]                    # media kind: audiobook
    if episode.summary:
        tags["desc"] = [episode.summary]
    if episode.year is not None:
        tags["\xa9day"] = [f"{episode.year:04d}"]
    if episode.track is not None:
        tags["trkn"] = [(episode.track, 0)]
    if episode.cover is not None:
        cover = Path(episode.cover)
        try:
            data = cover.read_bytes()
        except OSError as exc:
            raise RenderError(f"cannot read the cover image ({exc.strerror or exc}); check the file", cover) from None
        kind = MP4Cover.FORMAT_PNG if data.startswith(b"\x89PNG") else MP4Cover.FORMAT_JPEG
        tags["covr"] = [MP4Cover(data, imageformat=kind)]
    try:
        audio.save()
    except (MutagenError, OSError) as exc:
        raise RenderError(f"cannot write tags ({exc}); check the disk and permissions", m4b) from None
