"""The `audiofic` command: parse options, call the library, print. Nothing else lives here."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import signal
import sys
import time
from pathlib import Path

import click

from . import __version__
from .errors import DEBUG_ENV, AudioficError, unexpected

DEFAULT_INPUT = Path("input")
DEFAULT_OUTPUT = Path("output")


# True with or without the cache: with it, the clips already spoken are reused.
RESUME = "run the same command again to finish (clips already spoken are kept in the cache, unless --no-cache)"


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


class Terminated(BaseException):
    """SIGTERM, raised like Ctrl-C's KeyboardInterrupt so every `with` and `finally` cleans up
    (workers stopped, temporary folders removed) before the process exits."""


def _on_sigterm(signum, frame):
    raise Terminated()


def friendly(func):
    """Library errors become one line on stderr and a non-zero exit, never a traceback.
    Ctrl-C and SIGTERM stop the work, clean up, and exit 130 and 143."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        previous = None
        with contextlib.suppress(ValueError):        # (not in the main thread: leave it)
            previous = signal.signal(signal.SIGTERM, _on_sigterm)
        try:
            return func(*args, **kwargs)
        except AudioficError as exc:
            _fail(str(exc))
        except KeyboardInterrupt:
            _fail(f"interrupted; {RESUME}", 130)
        except Terminated:
            _fail(f"stopped (SIGTERM); {RESUME}", 143)
        except BrokenPipeError:    # the reader went away (`| head`): nothing to report
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(141)
        except Exception as exc:   # never a traceback for a user; AUDIOFIC_DEBUG=1 shows it
            if os.environ.get(DEBUG_ENV):
                raise
            _fail(unexpected(exc))
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    return wrapper


class Progress:
    """A one-line progress display on stderr, only when stderr is a terminal."""

    LABELS = {"speak": "Speaking", "encode": "Encoding"}

    def __init__(self, quiet: bool):
        self.enabled = not quiet and sys.stderr.isatty()
        self.started = time.monotonic()
        self.stage = None
        self.stage_started = self.started

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        now = time.monotonic()
        if stage != self.stage:
            self.stage, self.stage_started = stage, now
        elapsed = now - self.stage_started
        remaining = elapsed / done * (total - done) if done else 0
        width = 28
        filled = width * done // total
        unit = f"{done}/{total}" if stage == "speak" else f"{100 * done // total}%"
        line = f"\r{self.LABELS.get(stage, stage):9} [{'#' * filled}{'.' * (width - filled)}] {unit}  {elapsed:4.0f}s elapsed, ~{remaining:4.0f}s left "
        click.echo(line, err=True, nl=done >= total)


def skip_options(func):
    """--notes and --lyrics: read them (in their own voices) or leave them out."""
    func = click.option("--lyrics", "lyrics", type=click.Choice(["read", "skip"]), default="read", show_default=True,
                        help="Song lyrics quoted in the story: read in the lyrics voice, or left out.")(func)
    return click.option("--notes", "notes", type=click.Choice(["read", "skip"]), default="read", show_default=True,
                        help="Author's notes (summary, notes, asides): read in the notes voice, or left out.")(func)


def dialogue_option(func):
    return click.option(
        "--dialogue", type=click.Choice(["off", "one", "characters"]), default="characters", show_default=True,
        help="Dialogue voices: each character their own (characters), one voice for all dialogue (one), "
             "or the narrator's (off). Cast a character in <name>.toml: [cast] Alec = \"narrator\".",
    )(func)


ENGINE_HELP = ("Speech engine for every role: pyttsx3 (eSpeak NG), or piper (a neural voice; "
               "pip install 'audiofic[piper]') [default: each voice profile's own]. 'test' makes tones, for development.")


def engine_option(func):
    return click.option("--engine", type=click.Choice(["pyttsx3", "piper", "test"]), default=None, help=ENGINE_HELP)(func)


def _skipped(notes: str, lyrics: str) -> frozenset[str]:
    return frozenset(role for role, choice in (("note", notes), ("lyrics", lyrics)) if choice == "skip")


def _meta(meta) -> dict:
    """What is known about a work, for `plan`: only the fields that say something."""
    fields = ("title", "authors", "fandoms", "rating", "warnings", "category", "relationships", "characters",
              "tags", "language", "series", "series_part", "chapters", "words", "published", "updated", "url", "summary")
    return {f: getattr(meta, f) for f in fields if getattr(meta, f) not in ("", (), None)}


def _json(doc) -> None:
    click.echo(json.dumps(doc, ensure_ascii=False, indent=2))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="audiofic")
def main():
    """Turn fan fiction into audiobook episodes and podcast feeds.

    \b
    audiofic plan      show how a text is split and who reads what
    audiofic render    speak texts into tagged MP3 episodes (+ transcript, chapters, cover)
    audiofic voices    list voices and profiles, or preview one
    audiofic lexicon check   which lexicon entries change how words are said
    audiofic feed      write a podcast feed for a folder of episodes
    audiofic publish   upload a folder of episodes and its feed
    """


# ---- plan --------------------------------------------------------------------------------

@main.command()
@click.argument("inputs", nargs=-1, metavar="[INPUT]...")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of a table.")
@click.option("--voice", "voice_overrides", multiple=True, metavar="ROLE=PROFILE", help="Read ROLE with voice profile PROFILE (repeatable).")
@skip_options
@dialogue_option
@friendly
def plan(inputs, as_json, voice_overrides, notes, lyrics, dialogue):
    """Show how each work is read: the metadata found, and each paragraph's role, voice,
    chapter and what is said ("(silent)": structure, not read).

    INPUTs are texts (.txt, .md), downloads from AO3 or FanFicFare (.html, .epub), folders
    of them, or fic URLs (needs `pip install 'audiofic[fetch]'`); default: input/.
    Nothing is spoken or written.
    """
    from .read import find_inputs, read
    from .segment import segment
    from .voices import cast, load_profiles, parse_voice_overrides, with_language

    profiles = load_profiles()
    overrides = parse_voice_overrides(list(voice_overrides))
    docs = []
    for path in find_inputs(list(inputs) or [DEFAULT_INPUT]):
        segmented = segment(read(path))
        spoken = with_language(profiles, segmented.document.meta.language)   # the work's language, read or detected
        script = cast(segmented, spoken, overrides, _skipped(notes, lyrics), dialogue)
        meta = script.document.meta
        used = {s.voice for s in script.segments if s.voice} | {sp.voice for s in script.segments for sp in s.spans if sp.voice}
        everyone = {**spoken, **{p.name: p for p in script.profiles.values()}}
        docs.append({
            "input": str(path),
            "title": meta.title,
            "author": meta.author,
            "language": meta.language,
            "language_from": "metadata" if "language" in meta.given else "script" if meta.language != "en" else "default",
            "profiles": {n: {"engine": everyone[n].engine, "language": everyone[n].language} for n in sorted(used) if n in everyone},
            "meta": _meta(meta),
            "segments": [
                {"index": s.index, "role": s.role, "text": s.text, "speech": s.speech, "voice": s.voice, "chapter": s.chapter,
                 **({"spans": [{"kind": sp.kind, "text": s.text[sp.start:sp.end], "speaker": sp.speaker, "voice": sp.voice}
                               for sp in s.spans]} if s.spans else {})}
                for s in script.segments
            ],
            "characters": {name: {"gender": gender, "voice": next((p.name for n, p in script.profiles.items() if n == f"character {name}"), None)}
                           for name, gender in script.characters.items()},
            "songs": [{"title": s.title, "artist": s.artist} for s in script.songs],
            "quoted_songs": [{"title": s.title, "artist": s.artist} for s in script.quoted_songs],
        })
    if as_json:
        _json(docs[0] if len(docs) == 1 else docs)
        return
    for doc in docs:
        click.echo(f"{doc['input']}: {doc['title']} by {doc['author']} ({len(doc['segments'])} segments, {len(doc['songs'])} songs)")
        for key, value in doc["meta"].items():
            if key not in ("title", "authors"):
                shown = ", ".join(value) if isinstance(value, tuple) else " ".join(str(value).split())
                click.echo(f"  {key + ':':<14} {shown[:100]}{'...' if len(shown) > 100 else ''}")
        click.echo(f"{'#':>4}  {'role':<11} {'voice':<10} {'chapter':<28} says")
        for s in doc["segments"]:
            said = " ".join(s["speech"].split()) if s["speech"] or s["role"] == "scene_break" else "(silent) " + " ".join(s["text"].split())
            click.echo(f"{s['index']:>4}  {s['role']:<11} {(s['voice'] or '-'):<10} {s['chapter'][:28]:<28} {said[:60]}{'...' if len(said) > 60 else ''}")
            for sp in s.get("spans", ()):
                if sp["kind"] != "narration":
                    line = " ".join(sp["text"].split())
                    click.echo(f"{'':>6}{'  ' + sp['kind']:<13} {(sp['voice'] or '-')[:20]:<20} {(sp['speaker'] or '?')[:18]:<18} {line[:50]}{'...' if len(line) > 50 else ''}")
        if doc["songs"]:
            click.echo("Songs:")
            for n, song in enumerate(doc["songs"], 1):
                click.echo(f"  {n:>2}. {song['title']}" + (f" - {song['artist']}" if song["artist"] else ""))
        if doc["quoted_songs"]:
            click.echo("Lyrics quoted from: " + "; ".join(f"{s['title']} - {s['artist']}" for s in doc["quoted_songs"]))
        click.echo()


# ---- render ------------------------------------------------------------------------------

class _FolderOrUrl(click.ParamType):
    """A local folder (a Path) or a store's URL (a str, s3://... or another fsspec protocol)."""

    name = "FOLDER|URL"

    def convert(self, value, param, ctx):
        from .store import is_url, local

        if isinstance(value, Path):
            return value
        if not isinstance(value, str) or not value:
            self.fail("give a folder or a URL", param, ctx)
        return value if is_url(value) else local(value)


FOLDER_OR_URL = _FolderOrUrl()


@main.command()
@click.argument("inputs", nargs=-1, metavar="[INPUT]...")
@click.option("-o", "--output", "out_dir", type=FOLDER_OR_URL, default=DEFAULT_OUTPUT, show_default=True,
              help="Folder for the episodes, or a URL: s3://BUCKET/PREFIX or any fsspec filesystem (each file lands whole).")
@click.option("--voice", "voice_overrides", multiple=True, metavar="ROLE=PROFILE", help="Read ROLE with voice profile PROFILE (repeatable), e.g. --voice note=narrator.")
@click.option("--split", type=click.Choice(["none", "chapters"]), default="none", show_default=True, help="'chapters': one episode per chapter heading, with track numbers.")
@click.option("--interludes", "placement", type=click.Choice(["inline", "spread"]), default=None, help="Where song interludes go: where the author put the playlist (inline, default) or spread between the story's sections.")
@skip_options
@dialogue_option
@click.option("--no-header", is_flag=True, help="Leave out the spoken 'Title, by Author' introduction.")
@click.option("--no-outro", is_flag=True, help="Leave out the spoken credits at the end.")
@click.option("--bitrate", type=click.Choice(["32", "40", "48", "56", "64", "80", "96", "112", "128", "160", "192", "224", "256", "320"]), default="64", show_default=True, help="MP3 bitrate in kbit/s (constant).")
@click.option("--format", "fmt", type=click.Choice(["mp3", "m4b", "both"]), default="mp3", show_default=True,
              help="mp3: podcast episodes; m4b: one audiobook file per work (AAC, chapters, cover) for Apple Books, "
                   "BookPlayer and the like; both.")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=None, help="Parallel speech workers and encoders [default: all cores].")
@click.option("--cache-dir", type=FOLDER_OR_URL, default=None,
              help="Cache of spoken clips and encoded stretches, a folder or a URL (s3://BUCKET/PREFIX: shared by every "
                   "machine, each working in a local mirror of it) [default: $AUDIOFIC_CACHE or the user cache folder].")
@click.option("--no-cache", is_flag=True, help="Speak and encode everything afresh and keep nothing.")
@engine_option
@click.option("--cluster", envvar="AUDIOFIC_CLUSTER", default=None, metavar="ADDRESS",
              help="Render on a Dask cluster: its scheduler's tcp://HOST:PORT, or local:N for N workers here "
                   "(pip install 'audiofic[cluster]'; --cache-dir and -o must be folders every worker sees, or URLs such as "
                   "s3://BUCKET/PREFIX) [env: AUDIOFIC_CLUSTER].")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document describing the outputs.")
@click.option("-q", "--quiet", is_flag=True, help="No progress display.")
@friendly
def render(inputs, out_dir, voice_overrides, split, placement, notes, lyrics, dialogue, no_header, no_outro, bitrate, fmt, jobs, cache_dir, no_cache, engine, cluster, as_json, quiet):
    """Render works into phone-ready MP3 episodes.

    INPUTs are texts (.txt, .md), downloads from AO3 or FanFicFare (.html, .epub), folders
    of them, or fic URLs (needs `pip install 'audiofic[fetch]'`); default: input/.
    For each work, OUTPUT gets
    <slug>.mp3 (44.1 kHz mono CBR, -19 LUFS, ID3 chapters and cover), <slug>.vtt
    (transcript), <slug>.chapters.json (Podcasting 2.0 chapters) and <slug>.jpg (cover);
    with --format m4b or both, <slug>.m4b (AAC, chapters, tags and cover; one for the whole
    work, with a chapter per story chapter, when --split chapters makes several MP3s).
    A work's metadata comes from the download or a header in the text, and from
    <name>.toml next to it, which wins (see README). A file that fails
    is reported and the others still render; the exit code is then 1.
    """
    from .render import RenderOptions
    from .render import render as render_works
    from .voices import parse_voice_overrides

    options = RenderOptions(
        out_dir=out_dir,
        engine=engine,
        cache_dir=cache_dir,
        use_cache=not no_cache,
        jobs=jobs,
        voices=parse_voice_overrides(list(voice_overrides)),
        skip=_skipped(notes, lyrics),
        dialogue=dialogue,
        header=not no_header,
        outro=not no_outro,
        split=split,
        placement=placement,
        bitrate=int(bitrate),
        format=fmt,
    )
    if cluster:
        from .cluster import render_on_cluster   # dask is imported only here, only with --cluster

        def dashboard(link: str) -> None:
            if not quiet:
                click.echo(f"Dask dashboard: {link}", err=True)

        report = render_on_cluster(list(inputs) or [DEFAULT_INPUT], options, cluster, Progress(quiet), dashboard)
    else:
        report = render_works(list(inputs) or [DEFAULT_INPUT], options, Progress(quiet))
    for path, message in report.failures:
        click.echo(f"Error: {path}: {message}", err=True)
    if as_json:
        _json({"outputs": [
            {
                "input": str(e.source),
                "m4b": str(e.path),
                "duration_s": round(e.duration_ms / 1000, 3),
                "chapters": [{"title": c.title, "start_s": c.start_ms / 1000, "end_s": c.end_ms / 1000} for c in e.chapters],
            }
            if e.path.suffix == ".m4b" else
            {
                "input": str(e.source),
                "mp3": str(e.path),
                "duration_s": round(e.duration_ms / 1000, 3),
                "language": e.language,
                "voices": list(e.voices),
                "chapters": [{"title": c.title, "start_s": c.start_ms / 1000, "end_s": c.end_ms / 1000} for c in e.chapters],
                "transcript": str(e.transcript),
                "chapters_json": str(e.chapters_json),
                "cover": str(e.cover),
            }
            for e in report.outputs
        ], "speech": {"synthesized": report.speech.synthesized, "cached": report.speech.cached}})
    elif not quiet:
        for e in report.outputs:
            minutes, seconds = divmod(round(e.duration_ms / 1000), 60)
            click.echo(f"{e.path}  {minutes}:{seconds:02d}  {len(e.chapters)} chapters  ({e.title})")
    if report.failures:
        sys.exit(1)


# ---- voices ------------------------------------------------------------------------------

@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--say", "text", default=None, help="Render TEXT as a preview (needs --profile and -o).")
@click.option("--profile", default=None, help="Voice profile for --say (see the list).")
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), default=None, help="Preview MP3 to write.")
@click.option("--model", default=None, help="For --say: a Piper voice (by name, as listed, or an .onnx path) instead of the profile's.")
@engine_option
@friendly
def voices(as_json, text, profile, out, model, engine):
    """List voice profiles and the voices each engine has installed (Piper's: the voices
    found in packages and voice folders), or preview a profile with --say; with --engine,
    as that engine would speak every profile."""
    from .voices import describe
    from .render import preview

    if text is not None:
        if out is None or not (profile or model):
            raise click.UsageError("--say needs --profile NAME (or --model VOICE) and -o FILE.mp3")
        written = preview(text, profile or "narrator", out, engine=engine, model=model)
        click.echo(json.dumps({"output": str(written)}) if as_json else f"Wrote {written}")
        return
    listing = describe(engine)
    if as_json:
        _json({
            "engine": engine,
            "voices": {name: ([dataclasses.asdict(v) for v in found] if isinstance(found, list) else {"error": found})
                       for name, found in listing.engines.items()},
            "profiles": {name: {**dataclasses.asdict(p), "resolved_voice": listing.resolved[name]} for name, p in sorted(listing.profiles.items())},
        })
        return
    click.echo("Profiles (voices/*.toml)" + (f", spoken by {engine}:" if engine else ":"))
    for name, p in sorted(listing.profiles.items()):
        click.echo(f"  {name:<16} {p.engine:<8} voice={listing.resolved[name]:<34} rate={p.rate} wpm  pitch={p.pitch}  volume={p.volume}")
    for name, found in listing.engines.items():
        if isinstance(found, str):
            click.echo(f"\n{name} voices: {found}")
            continue
        click.echo(f"\nInstalled {name} voices ({len(found)}):")
        for v in found:
            click.echo(f"  {v.id:<24} {v.name:<44} {','.join(v.languages)} {v.gender or ''}")


# ---- lexicon -----------------------------------------------------------------------------

@main.group()
def lexicon():
    """The pronunciation lexicon (voices/lexicon.toml and a work's [lexicon])."""


@lexicon.command("check")
@click.argument("work", required=False, type=click.Path(path_type=Path))
@click.option("--profile", default="narrator", show_default=True, help="The voice profile whose accent the phonemes are in.")
@engine_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@friendly
def lexicon_check(work, profile, engine, as_json):
    """Say, for every lexicon entry, whether it changes the phonemes the engine says.

    The phonemes are eSpeak NG's (espeak_TextToPhonemes), in the accent the profile speaks
    with (pyttsx3: its language; piper: the model's eSpeak voice): Piper's phonemizer is
    eSpeak NG too. With WORK (a text or download), its sidecar's [lexicon] and its accent
    count too. An entry that changes nothing does nothing: the exit code is then 1.
    """
    from .speech.lexicon import check_work

    report = check_work(work, profile, engine)
    if as_json:
        _json({"profile": report.profile, "engine": report.engine, "espeak_voice": report.espeak_voice, "files": report.files,
               "entries": [{"word": c.word, "says": c.says, "before": c.before, "after": c.after, "changes": c.changes} for c in report.checks]})
    else:
        click.echo(f"Lexicon {' + '.join(report.files) or '(empty)'}: {report.profile} ({report.engine}), eSpeak NG voice {report.espeak_voice}")
        width = max((len(c.word) for c in report.checks), default=4)
        for c in report.checks:
            verdict = "changes" if c.changes else "CHANGES NOTHING: drop it or give phonemes"
            click.echo(f"  {c.word:<{width}}  {c.before:>18} -> {c.after:<18} {verdict}")
        idle = sum(not c.changes for c in report.checks)
        click.echo(f"{len(report.checks)} entries: {len(report.checks) - idle} change what is said, {idle} change nothing.")
    if any(not c.changes for c in report.checks):
        sys.exit(1)


# ---- feed and publish -----------------------------------------------------------------------

@main.command()
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False), default=DEFAULT_OUTPUT)
@click.option("--base-url", default=None, help="Public URL the folder will be served from, e.g. https://example.org/podfic (or base_url in show.toml).")
@click.option("--title", default=None, help="Show title [default: the episodes' album].")
@click.option("--author", default=None, help="Show author [default: the episodes' author].")
@click.option("--email", default=None, help="Owner email (podcast directories show it to you, not listeners).")
@click.option("--description", default=None, help="Show description.")
@click.option("--language", default=None, help="Language code [default: the episodes' language].")
@click.option("--category", default=None, help="Apple Podcasts category, e.g. 'Fiction' or 'Arts/Books' [default: Fiction].")
@click.option("--explicit/--clean", default=None, help="Mark the show explicit or clean [default: clean].")
@click.option("--image", type=click.Path(path_type=Path, dir_okay=False), default=None, help="Show artwork (square, 1400-3000 px) [default: generated].")
@click.option("--public/--unlisted", default=None, help="List the show in podcast directories, or keep it unlisted with itunes:block [default: unlisted].")
@click.option("--split-shows", is_flag=True, default=None, help="Also write one feed per work (feed-<work>.xml), for listeners who follow one fic.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@friendly
def feed(folder, base_url, title, author, email, description, language, category, explicit, image, public, split_shows, as_json):
    """Write FOLDER/feed.xml, a podcast feed for the episodes in FOLDER (default: output/).

    Works are ordered by when they were published and each work's chapters by number, with
    pubDates in that order; one multi-chapter work is a serial show, several works an
    episodic one. Options not given are read from FOLDER/show.toml (same names, e.g.
    split_shows = true), then from the episodes.
    """
    from .feed import FeedOptions, build_feed

    result = build_feed(folder, FeedOptions(
        base_url=base_url, title=title, author=author, email=email, description=description,
        language=language, category=category, explicit=explicit, image=image, public=public, split_shows=split_shows,
    ))
    if as_json:
        _json({"feed": str(result.path), "episodes": result.episodes, "guid": str(result.guid), "shows": [str(p) for p in result.shows]})
    else:
        click.echo(f"Wrote {result.path} ({result.episodes} episodes)")
        for path in result.shows:
            click.echo(f"Wrote {path}")


@main.command()
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False), default=DEFAULT_OUTPUT)
@click.option("--to", "dest", required=True, help="Destination: a folder, file:///path, or s3://bucket/prefix.")
@click.option("--endpoint-url", default=None, help="S3-compatible endpoint [default: $AWS_ENDPOINT_URL or AWS].")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: {\"uploaded\": [...], \"skipped\": [...]}.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@friendly
def publish(folder, dest, endpoint_url, as_json, quiet):
    """Upload FOLDER's episodes, sidecars and artwork, then its feed.xml, to DEST.

    Media goes first and the feed last, so the feed never names a missing file. Files
    already there with the same content are skipped. S3 needs `pip install 'audiofic[s3]'`
    and the usual AWS credentials (environment or ~/.aws).
    """
    from .publish import publish as publish_folder

    result = publish_folder(folder, dest, endpoint_url=endpoint_url)
    if as_json:
        _json({"uploaded": list(result.uploaded), "skipped": list(result.skipped)})
    elif not quiet:
        for name in result.uploaded:
            click.echo(f"uploaded {name}")
        click.echo(f"{len(result.uploaded)} uploaded, {len(result.skipped)} already there")


# ---- update ------------------------------------------------------------------------------

@main.command()
@click.argument("source")
@click.option("--feed", "feed_dir", type=click.Path(path_type=Path, file_okay=False), default=DEFAULT_OUTPUT, show_default=True,
              help="The feed folder: episodes, feed.xml and the update state (.audiofic-update.json).")
@click.option("--base-url", default=None, help="Where the feed folder is served, e.g. https://example.org/podfic [default: base_url in its show.toml].")
@click.option("--publish", "dest", default=None, help="Then publish the folder: a folder, file:///path or s3://bucket/prefix (as `audiofic publish --to`).")
@click.option("--endpoint-url", default=None, help="S3-compatible endpoint for --publish [default: $AWS_ENDPOINT_URL or AWS].")
@click.option("--voice", "voice_overrides", multiple=True, metavar="ROLE=PROFILE", help="Read ROLE with voice profile PROFILE (repeatable), as for render.")
@skip_options
@dialogue_option
@click.option("--no-header", is_flag=True, help="Leave out the spoken 'Title, by Author' introduction.")
@click.option("--no-outro", is_flag=True, help="Leave out the spoken credits at the end.")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=None, help="Parallel speech workers and encoders [default: all cores].")
@click.option("--cache-dir", type=click.Path(path_type=Path), default=None, help="Cache of spoken clips and encoded stretches [default: $AUDIOFIC_CACHE or the user cache folder].")
@engine_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@friendly
def update(source, feed_dir, base_url, dest, endpoint_url, voice_overrides, notes, lyrics, dialogue, no_header, no_outro, jobs, cache_dir, engine, as_json, quiet):
    """Follow a work as it grows: render its new or edited chapters into the feed folder,
    rebuild the feed, and publish.

    SOURCE is a work folder (one file per chapter, in name order; work.toml in it holds
    the work's metadata, with the same keys as a sidecar), a download of the whole work
    (AO3 or FanFicFare HTML/EPUB), or a fic URL (needs `pip install 'audiofic[fetch]'`).
    Run it whenever the work may have grown (e.g. from cron): with nothing new it changes
    nothing and says so. An edited chapter replaces its episode (same guid); chapters keep
    their pubDates. Feed options come from FOLDER/show.toml (see `audiofic feed`).
    """
    from .feed import FeedOptions
    from .render import RenderOptions
    from .update import UpdateOptions
    from .update import update as update_work
    from .voices import parse_voice_overrides

    options = UpdateOptions(
        feed_dir=feed_dir,
        render=RenderOptions(
            engine=engine, cache_dir=cache_dir, jobs=jobs, voices=parse_voice_overrides(list(voice_overrides)),
            skip=_skipped(notes, lyrics), dialogue=dialogue, header=not no_header, outro=not no_outro,
        ),
        feed=FeedOptions(base_url=base_url),
        publish_to=dest,
        endpoint_url=endpoint_url,
    )
    result = update_work(source, options, Progress(quiet))
    if as_json:
        _json({
            "source": result.source, "chapters": result.chapters, "new": list(result.new), "changed": list(result.changed),
            "gone": list(result.gone), "episodes": [str(e.path) for e in result.episodes],
            "feed": str(result.feed.path) if result.feed else None, "uploaded": list(result.uploaded), "skipped": list(result.skipped),
        })
        return
    if quiet:
        return
    for number in result.gone:
        click.echo(f"Chapter {number} is no longer in the source; its episode stays in the feed (delete its files to drop it).")
    if result.nothing_new:
        click.echo(f"Nothing new: all {result.chapters} chapters of {source} are in {feed_dir} already.")
    for e in result.episodes:
        minutes, seconds = divmod(round(e.duration_ms / 1000), 60)
        state = "edited" if e.track in result.changed else "new"
        click.echo(f"{e.path}  {minutes}:{seconds:02d}  ({state}: {e.title})")
    if result.feed:
        click.echo(f"Wrote {result.feed.path} ({result.feed.episodes} episodes)")
    if result.uploaded:     # (with nothing new, a publish is only retried: silent if all is there)
        click.echo(f"Published to {dest}: {len(result.uploaded)} uploaded, {len(result.skipped)} already there")


# ---- proof -------------------------------------------------------------------------------

def _clock(ms: int) -> str:
    minutes, seconds = divmod(ms // 1000, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


@main.command()
@click.argument("episode", type=click.Path(path_type=Path))
@click.option("--model", default=None, metavar="NAME_OR_PATH",
              help="Whisper model in CTranslate2 format: a folder, or a name (tiny.en, small.en, ...) found in the "
                   "local Hugging Face cache [default: the bundled tiny.en].")
@click.option("--download", is_flag=True, help="Let --model NAME be downloaded from the Hugging Face Hub when it is not on this machine.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON document.")
@click.option("-q", "--quiet", is_flag=True, help="No progress display.")
@friendly
def proof(episode, model, download, as_json, quiet):
    """Listen to an episode with speech recognition and compare it with its transcript.

    EPISODE is an MP3 written by `audiofic render`, with its <name>.vtt next to it.
    Reports the word error rate (overall and per chapter), the words heard wrong (names
    first, with times) and any stretch of text missing from the audio. Needs
    `pip install 'audiofic[proof]'`; nothing is downloaded unless you add --download.
    """
    from collections import Counter

    from .proof import ProofOptions
    from .proof import proof as proof_episode

    progress = Progress(quiet or as_json)
    progress.LABELS = {**Progress.LABELS, "listen": "Listening"}
    report = proof_episode(episode, ProofOptions(model=model, download=download), progress)
    if as_json:
        _json(report.as_dict())
        return
    click.echo(f"{report.episode}: {_clock(report.duration_ms)} heard in {report.listen_seconds:.1f} s "
               f"({report.speed:.1f}x real time) with {report.model}")
    click.echo(f"Word error rate {100 * report.wer:.1f}% ({report.errors} errors in {report.words} words: "
               f"{report.substitutions} heard wrong, {report.deletions} not heard, {report.insertions} extra)")
    if len(report.chapters) > 1:
        click.echo(f"\n  {'chapter':<36} {'start':>7} {'words':>6} {'WER':>6}")
        for c in report.chapters:
            wer = "-" if c.wer is None else f"{100 * c.wer:.0f}%"
            click.echo(f"  {c.title[:36]:<36} {_clock(c.start_ms):>7} {c.words:>6} {wer:>6}")
    if report.missing:
        click.echo("\nMissing from the audio:")
        for m in report.missing:
            text = m.text if len(m.text) <= 70 else m.text[:67] + "..."
            click.echo(f"  {_clock(m.start_ms)}-{_clock(m.end_ms)}  {m.words} words  \"{text}\"  ({m.chapter})")
    if report.misheard:
        click.echo("\nHeard wrong (names first):")
        for m in report.misheard:
            heard = Counter(h.heard or "(nothing)" for h in m.heard)
            said = ", ".join(f'"{w}"' + (f" x{n}" if n > 1 else "") for w, n in heard.most_common(3))
            times = " ".join(_clock(h.time_ms) for h in m.heard[:6]) + (" ..." if len(m.heard) > 6 else "")
            click.echo(f"  {m.word:<16} {m.wrong}/{m.said}  as {said}  at {times}")
    if report.extra:
        shown = ", ".join(f'"{e.word}" {_clock(e.time_ms)}' for e in report.extra[:8])
        click.echo(f"\nHeard but not in the text ({len(report.extra)}): {shown}{' ...' if len(report.extra) > 8 else ''}")


if __name__ == "__main__":
    main()
