"""One error root. The CLI turns every AudioficError into `Error: <file>: <message>`."""

from __future__ import annotations

from pathlib import Path


class AudioficError(Exception):
    """Something the user can fix: bad input, missing tool, unreachable server."""

    def __init__(self, message: str, path: str | Path | None = None):
        message = " ".join(message.split())   # one line, whatever a library's text held
        super().__init__(message)
        self.message = message
        self.path = None if path is None else str(path)

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class InputError(AudioficError):
    """The text or its sidecar cannot be used (missing, empty, binary, undecodable)."""


class VoiceError(AudioficError):
    """An unknown voice profile, voice or engine."""


class EngineError(AudioficError):
    """The speech engine failed on a segment, even after retries."""


class RenderError(AudioficError):
    """Assembling, encoding or writing an episode failed (ffmpeg, disk, permissions)."""


class FeedError(AudioficError):
    """A folder of episodes cannot be turned into a feed."""


class ClusterError(AudioficError):
    """A Dask cluster cannot be used (extra missing, scheduler unreachable, workers unfit)."""


class PublishError(AudioficError):
    """Uploading failed (missing bucket, credentials, unreachable endpoint)."""


DEBUG_ENV = "AUDIOFIC_DEBUG"   # set to 1 to see the traceback of an unexpected error


def unexpected(exc: BaseException) -> str:
    """One line for an error nobody foresaw (a bug of ours or a library's), so a batch can
    report it and go on; AUDIOFIC_DEBUG=1 lets the traceback through instead."""
    text = " ".join(str(exc).split())[:200]
    return f"unexpected {type(exc).__name__}{': ' + text if text else ''}; please report it (run with {DEBUG_ENV}=1 for details)"
