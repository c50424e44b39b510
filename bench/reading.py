"""Time reading and segmenting long works (no speech), against a bare reader in the same run.

Two 100,000-word works are generated (bench/generate.py's prose):
- the plain text with single newlines between paragraphs (a fanfiction.net-style copy), and
- the same work as an AO3-shaped EPUB (preface with tags and summary, one chapter a file with
  its heading, notes and text, an afterword), made here with zipfile.

audiofic's read + segment (every paragraph's role, chapter and speech) is timed in this
process, median of --runs, against a bare pipeline doing the least any reader must: for the
text, decode and split lines; for the EPUB, unzip and parse every document with lxml and
collect its text. Targets (issues 12 and 13): segmenting the text under 1 s, reading and
segmenting the EPUB under 2 s.

    python bench/reading.py [--words 100000] [--runs 5]
"""

from __future__ import annotations

import argparse
import html
import json
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import lxml.html

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from generate import generate  # noqa: E402

from audiobook.read import read  # noqa: E402
from audiobook.segment import segment  # noqa: E402


def single_newlines(text: str) -> str:
    """The work as a fanfiction.net copy gives it: one newline between paragraphs."""
    return "\n".join(p.replace("\n", " ") if not p.startswith("These are the songs") else p for p in text.split("\n\n"))


def ao3_epub(text: str, path: Path) -> None:
    """The work as an AO3-shaped EPUB: one XHTML file a chapter, as calibre splits the download."""
    blocks = text.split("\n\n")
    chapters: list[list[str]] = []
    for block in blocks[1:-2]:
        if block.startswith("Chapter "):
            chapters.append([block])
        elif chapters:
            chapters[-1].append(block)

    def page(body: str) -> str:
        return f'<?xml version="1.0" encoding="utf-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml"><head><title>x</title></head><body class="calibre">{body}</body></html>'

    def paras(items) -> str:
        return "".join("<hr/>" if p == "* * *" else f"<p>{html.escape(p).replace(chr(10), '<br/>')}</p>" for p in items)

    files = [page(
        '<div id="preface"><p class="message"><b>Bench Work</b><br/>Posted originally on the '
        '<a href="https://archiveofourown.org/">Archive of Our Own</a> at <a href="https://archiveofourown.org/works/1">'
        'https://archiveofourown.org/works/1</a>.</p><div class="meta"><dl class="tags"><dt>Rating:</dt><dd>General Audiences</dd>'
        '<dt>Fandom:</dt><dd>Original Work</dd><dt>Stats:</dt><dd>Published: 2024-01-01 Words: 100,000 Chapters: 33/33</dd></dl>'
        f'<h1>Bench Work</h1><div class="byline">by <a rel="author" href="x">bench</a></div><p>Summary</p><blockquote class="userstuff">'
        f'<p>A generated work.</p></blockquote><p>Notes</p><blockquote class="userstuff">{paras([blocks[0]])}</blockquote></div></div>')]
    for n, chapter in enumerate(chapters, 1):
        files.append(page(
            f'<div id="chapters" class="userstuff1"><div class="calibre1"><h2 class="heading">{html.escape(chapter[0])}</h2>'
            f'<p>Chapter Notes</p><blockquote class="userstuff"><p>Note for chapter {n}.</p></blockquote></div>'
            f'<div class="userstuff2">{paras(chapter[1:])}</div></div>'))
    files.append(page(f'<div id="afterword"><div id="endnotes"><p>End Notes</p><blockquote class="userstuff">{paras(blocks[-2:])}</blockquote></div></div>'))
    names = [f"Bench_split_{i:03d}.xhtml" for i in range(len(files))]
    opf = ('<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="2.0"><metadata '
           'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Bench Work</dc:title><dc:language>en</dc:language></metadata><manifest>'
           + "".join(f'<item id="h{i}" href="{name}" media-type="application/xhtml+xml"/>' for i, name in enumerate(names))
           + "</manifest><spine>" + "".join(f'<itemref idref="h{i}"/>' for i in range(len(names))) + "</spine></package>")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        z.writestr("META-INF/container.xml", '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles><rootfile full-path="content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>')
        z.writestr("content.opf", opf)
        for name, data in zip(names, files):
            z.writestr(name, data)


def bare_text(path: Path) -> int:
    return len(path.read_bytes().decode("utf-8").split("\n"))


def bare_epub(path: Path) -> int:
    n = 0
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.endswith(".xhtml"):
                n += len("".join(lxml.html.document_fromstring(z.read(name)).itertext()))
    return n


def timed(fn, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--words", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    work = generate(args.words)
    with tempfile.TemporaryDirectory(prefix="audiofic-bench-") as tmp:
        text_path, epub_path = Path(tmp) / "work.txt", Path(tmp) / "work.epub"
        text_path.write_text(single_newlines(work), encoding="utf-8")
        ao3_epub(work, epub_path)
        rows = {}
        for name, path, bare, target in (("text", text_path, bare_text, 1.0), ("epub", epub_path, bare_epub, 2.0)):
            segment(read(path))                               # warm imports and regex compilation
            bare_s, _ = timed(lambda: bare(path), args.runs)
            ours_s, script = timed(lambda: segment(read(path)), args.runs)
            words = sum(len(s.text.split()) for s in script.segments)
            rows[name] = {"words": words, "segments": len(script.segments), "bare_s": round(bare_s, 3),
                          "audiofic_s": round(ours_s, 3), "ratio": round(ours_s / bare_s, 1), "target_s": target,
                          "pass": ours_s < target,
                          "roles": {r: sum(1 for s in script.segments if s.role == r) for r in sorted({s.role for s in script.segments})}}
    print(f"{'input':6} {'words':>7} {'segments':>8} {'bare s':>7} {'read+segment s':>15} {'ratio':>6}  target")
    for name, r in rows.items():
        print(f"{name:6} {r['words']:>7} {r['segments']:>8} {r['bare_s']:>7.3f} {r['audiofic_s']:>15.3f} {r['ratio']:>5.1f}x  < {r['target_s']} s {'PASS' if r['pass'] else 'FAIL'}")
    out = Path(__file__).resolve().parent / "results" / f"reading-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    print(f"wrote {out}")
    return 0 if all(r["pass"] for r in rows.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
