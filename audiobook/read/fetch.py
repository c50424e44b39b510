"""A fic URL: FanFicFare (the [fetch] extra) downloads the work as an EPUB, in memory, and
epub.py reads it like any other download.

FanFicFare runs as a library with a configuration built here from its packaged defaults:
nothing is read from or written to the user's home or the working folder, no images are
fetched, and an adult-content check or a login is never answered for the user. A user
who wants FanFicFare settings of their own (a login, is_adult, replace_chapter_text...)
names their personal.ini in AUDIOFIC_FANFICFARE_INI; it is read last. Its offline test
sites (http://test1.com?sid=N; N >= 1000 takes the work from personal.ini) make whole works
without any network.
"""

from __future__ import annotations

import configparser
import io
import logging
import os
from pathlib import Path

from ..errors import InputError
from ..models import Document
from .epub import read_epub

EXTRA = "pip install 'audiofic[fetch]'"
INI_ENV = "AUDIOFIC_FANFICFARE_INI"
_SETTINGS = """
[defaults]
is_adult:false
include_images:false
include_titlepage:true
include_tocpage:false
"""


def fetch(url: str) -> Document:
    try:
        import fanficfare
        from fanficfare import adapters, exceptions, writers
        from fanficfare.configurable import Configuration
    except ImportError:
        raise InputError(f"reading a fic URL needs FanFicFare; install it with {EXTRA}", url) from None
    logging.getLogger("fanficfare").setLevel(logging.CRITICAL)  # it logs every request; errors come as exceptions

    why = {
        exceptions.UnknownSite: "not a site FanFicFare knows; download the work as HTML or EPUB and give the file",
        exceptions.InvalidStoryURL: "not a work's address on that site; check the URL",
        exceptions.StoryDoesNotExist: "no such work there (404); check the URL",
        exceptions.AdultCheckRequired: "the site wants you to confirm you are an adult; download the work in your browser and give the file",
        exceptions.FailedToLogin: "the work is locked to logged-in users; log in in your browser, download it (HTML or EPUB) and give the file",
        exceptions.AccessDenied: "the site refused access; download the work in your browser and give the file",
    }
    try:
        config = Configuration(adapters.getConfigSectionsFor(url), "epub")
        with open(Path(fanficfare.__file__).parent / "defaults.ini", encoding="utf-8") as f:
            config.read_file(f)
        config.read_file(io.StringIO(_SETTINGS))
        _read_personal(config)
        adapter = adapters.getAdapter(config, url)
        adapter.getStoryMetadataOnly()
        adapter.getStory()                     # every chapter (writeStory to a stream fetches none)
        out = io.BytesIO()
        writers.getWriter("epub", config, adapter).writeStory(outstream=out)
    except InputError:
        raise
    except tuple(why) as exc:
        raise InputError(next(text for kind, text in why.items() if isinstance(exc, kind)), url) from None
    except (exceptions.FailedToDownload, exceptions.HTTPErrorFFF) as exc:
        raise InputError(f"the download failed ({_one_line(exc)}); try again later", url) from None
    except OSError as exc:                     # requests' connection errors are OSErrors
        raise InputError(f"cannot reach the site ({type(exc).__name__}); check the network and try again", url) from None
    except Exception as exc:                   # FanFicFare has no common error root
        raise InputError(f"FanFicFare could not download it ({type(exc).__name__}: {_one_line(exc)})", url) from None
    return read_epub(url, out.getvalue())


def _read_personal(config) -> None:
    personal = os.environ.get(INI_ENV, "").strip()
    if not personal:
        return
    try:
        with open(personal, encoding="utf-8") as f:
            config.read_file(f)
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        why = getattr(exc, "strerror", None) or " ".join(str(exc).split())[:120]
        raise InputError(f"cannot read this FanFicFare personal.ini ({why}); fix it or unset {INI_ENV}", personal) from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]
