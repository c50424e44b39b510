"""Broken, hostile and huge downloads, and URLs that fail: each a one-line error naming the
file (or URL) and what to do, a non-zero exit, no traceback, nothing written, and a batch
that goes on with its other works. Nothing in a file is fetched or run."""

from __future__ import annotations

import http.server
import json
import sys
import threading
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from audiobook.cli import main

DOWNLOADS = Path(__file__).resolve().parent / "fixtures" / "downloads"
GOOD_TEXT = Path(__file__).resolve().parent / "fixtures" / "no-notes.txt"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def one_line_error(result, name: str, *words: str) -> str:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and name in lines[0], lines
    assert "Traceback" not in result.output
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def epub(path: Path, files: dict[str, bytes | str], opf: str | None = None) -> Path:
    container = ('<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
                 '<rootfiles><rootfile full-path="content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>')
    if opf is None:
        items = "".join(f'<item id="c{i}" href="{name}" media-type="application/xhtml+xml"/>' for i, name in enumerate(files))
        refs = "".join(f'<itemref idref="c{i}"/>' for i in range(len(files)))
        opf = (f'<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="2.0"><metadata '
               f'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>T</dc:title></metadata><manifest>{items}</manifest>'
               f'<spine>{refs}</spine></package>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        z.writestr("META-INF/container.xml", container)
        z.writestr("content.opf", opf)
        for name, data in files.items():
            z.writestr(name, data)
    return path


CHAPTER = "<html><body><h1>One</h1>" + "<p>The tide came in over the flats and nobody saw it coming.</p>" * 20 + "</body></html>"


@pytest.mark.parametrize("command", ["plan", "render"])
def test_truncated_epub(tmp_path, command):
    bad = tmp_path / "cut.epub"
    bad.write_bytes((DOWNLOADS / "ao3-multi.epub").read_bytes()[:3000])
    one_line_error(run(command, bad, *(["-o", tmp_path / "out", "--engine", "test"] if command == "render" else [])),
                   "cut.epub", "download the work again")


def test_epub_with_drm(tmp_path):
    path = epub(tmp_path / "drm.epub", {"ch1.xhtml": b"\x8f\x02 encrypted bytes \x00"})
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("META-INF/encryption.xml", '<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
                   'xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData><enc:CipherData>'
                   '<enc:CipherReference URI="ch1.xhtml"/></enc:CipherData></enc:EncryptedData></encryption>')
    one_line_error(run("plan", path), "drm.epub", "DRM")


def test_epub_without_spine(tmp_path):
    opf = ('<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="2.0"><metadata/>'
           '<manifest><item id="c" href="ch1.xhtml" media-type="application/xhtml+xml"/></manifest><spine/></package>')
    one_line_error(run("plan", epub(tmp_path / "nospine.epub", {"ch1.xhtml": CHAPTER}, opf)), "nospine.epub", "spine")


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_epub_bomb_is_refused_before_it_is_unpacked(tmp_path):
    path = tmp_path / "bomb.epub"
    epub(path, {"ch1.xhtml": CHAPTER})
    with zipfile.ZipFile(path, "a") as z:   # 1 GB of zeros in ~1 MB, in the spine
        info = zipfile.ZipInfo("big.xhtml")
        info.compress_type = zipfile.ZIP_DEFLATED
        with z.open(info, "w", force_zip64=True) as f:
            block = b"\0" * (1 << 20)
            for _ in range(1024):
                f.write(block)
    opf = ('<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="2.0"><metadata/><manifest>'
           '<item id="b" href="big.xhtml" media-type="application/xhtml+xml"/></manifest><spine><itemref idref="b"/></spine></package>')
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("content.opf", opf)        # a second copy wins in namelist lookups: the bomb is read
    assert path.stat().st_size < 8 * 2**20
    one_line_error(run("plan", path), "bomb.epub", "MB")


def test_not_a_zip_at_all(tmp_path):
    path = tmp_path / "fake.epub"
    path.write_bytes(b"%PDF-1.4 this is no epub" * 10)
    one_line_error(run("plan", path), "fake.epub", "not a valid EPUB")


@pytest.mark.parametrize("html, words", [
    ("<html><head><script>var x = 'lots of words here';</script><style>p{}</style></head><body></body></html>", "no story text"),
    ("<html><body><form><input name=u><input type=password name=p><button>Log in</button></form></body></html>", "login page"),
    ("<html><head><title>404 Not Found</title></head><body><h1>Error 404</h1><p>The page was not found.</p></body></html>", "no story text"),
    ("", "empty"),
])
def test_html_that_is_not_a_work(tmp_path, html, words):
    path = tmp_path / "page.html"
    path.write_text(html, encoding="utf-8")
    one_line_error(run("plan", path), "page.html", words)


def test_huge_html_is_refused_unread(tmp_path):
    path = tmp_path / "huge.html"
    with open(path, "wb") as f:
        f.truncate(50 * 2**20)                 # sparse: 50 MB on paper
    one_line_error(run("plan", path), "huge.html", "50.0 MB", "limit")


def test_external_entities_are_not_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE", encoding="utf-8")
    opf = (f'<?xml version="1.0"?><!DOCTYPE package [<!ENTITY xxe SYSTEM "file://{secret}">]>'
           '<package xmlns="http://www.idpf.org/2007/opf" version="2.0"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
           '<dc:title>Title &xxe;</dc:title></metadata><manifest><item id="c" href="ch1.xhtml" media-type="application/xhtml+xml"/>'
           '</manifest><spine><itemref idref="c"/></spine></package>')
    result = run("plan", epub(tmp_path / "xxe.epub", {"ch1.xhtml": CHAPTER}, opf), "--json")
    assert "TOP-SECRET-VALUE" not in result.output


class _Counter(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802
        _Counter.hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"<p>fetched</p>")

    def log_message(self, *args):
        pass


def test_nothing_in_a_download_is_fetched(tmp_path):
    server = http.server.HTTPServer(("127.0.0.1", 0), _Counter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        page = (f'<html><head><link rel="stylesheet" href="{base}/style.css"><script src="{base}/app.js"></script></head>'
                f'<body><iframe src="{base}/frame"></iframe><img src="{base}/divider.png">'
                + "<p>The harbour lights went out one by one until only the lighthouse was left.</p>" * 5
                + f'<object data="{base}/object"></object></body></html>')
        (tmp_path / "page.html").write_text(page, encoding="utf-8")
        (tmp_path / "page.epub").write_bytes(b"")
        epub(tmp_path / "page.epub", {"ch1.xhtml": page.replace("<html>", '<html xmlns="http://www.w3.org/1999/xhtml">')})
        for name in ("page.html", "page.epub"):
            result = run("plan", tmp_path / name, "--json")
            assert result.exit_code == 0, result.output
            assert "harbour lights" in result.output and "fetched" not in result.output
        assert _Counter.hits == []
    finally:
        server.shutdown()
        server.server_close()


def test_a_batch_goes_on_past_bad_downloads(tmp_path):
    bad = tmp_path / "cut.epub"
    bad.write_bytes((DOWNLOADS / "ao3-multi.epub").read_bytes()[:2000])
    login = tmp_path / "login.html"
    login.write_text("<html><body><input type=password></body></html>", encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["render", str(bad), str(GOOD_TEXT), str(login), str(tmp_path / "missing.epub"),
                                       "-o", str(out), "--cache-dir", str(tmp_path / "c"), "--engine", "test", "--json", "-q"])
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 3
    assert sorted(e.split(": ")[1].rsplit("/", 1)[-1] for e in errors) == ["cut.epub", "login.html", "missing.epub"]
    assert [Path(o["mp3"]).name for o in json.loads(result.stdout)["outputs"]] == ["no-notes.mp3"]
    assert sorted(p.name for p in out.iterdir()) == sorted(f"no-notes{s}" for s in (".mp3", ".vtt", ".jpg", ".chapters.json"))


def test_a_url_without_fanficfare_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "fanficfare", None)       # as if the [fetch] extra were not installed
    one_line_error(run("plan", "https://archiveofourown.org/works/1"), "archiveofourown.org/works/1", "pip install 'audiofic[fetch]'")


@pytest.mark.parametrize("url, words", [
    ("http://test1.com?sid=666", "no such work"),
    ("http://test1.com?sid=668", "locked"),
    ("http://test1.com?sid=665", "adult"),
    ("https://fanfic.example.invalid/story/1", "not a site FanFicFare knows"),
])
def test_urls_that_fail(url, words):
    pytest.importorskip("fanficfare")
    one_line_error(run("plan", url), url, words)
