"""Stage 3, cast: voice profiles (voices/*.toml) and which role speaks with which profile.

A profile names an engine and either a concrete engine voice id (`voice`) or a language and a
gender preference that the engine resolves against its installed voices, so one profile works
on every OS; a Piper profile names a `model` (and a `speaker` of a multi-speaker model).
Precedence for a role's profile: --voice ROLE=PROFILE overrides, then the sidecar's [cast]
table, then DEFAULT_CAST.

`--engine NAME` switches every role at once (`for_engine`): a profile `<name>-<engine>.toml`
stands in for `<name>` where there is one (voices/narrator-piper.toml for the narrator),
else the profile itself is spoken by that engine. A work's language with a region
(`language = "en-GB"` in its sidecar) sets the accent of the profiles in that language
(`with_accent`); a work in another language (`language = "ru"`, or a Cyrillic text) is read
by every profile in that language (`with_language`).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path

from . import paths
from .errors import VoiceError
from .models import ROLES, SILENT_ROLES, Script, VoiceProfile

# Spoken lines that are not segments of the text: the episode's header and outro; and the
# kinds of span inside a story paragraph (segment/dialogue.py).
PSEUDO_ROLES = ("header", "outro")
SPAN_ROLES = ("speech", "thought", "message")
CAST_ROLES = tuple(r for r in ROLES if r not in SILENT_ROLES) + SPAN_ROLES + PSEUDO_ROLES
DIALOGUE_MODES = ("off", "one", "characters")
# Character voices, made from the dialogue profile: an eSpeak variant, a pitch and a pace
# each, the men's and women's timbres alternating; a work's characters take them in the
# order they first speak, so a voice stays with its character as the work grows.
# Measured with eSpeak NG (median pitch of one sentence; the narrator is ~99 Hz): 144, 198,
# 84, 286, 118, 216, 80, 188, 119, 143 Hz: the first six a semitone or more from each other
# and from the narrator.
CHARACTER_VOICES: tuple[tuple[str, int, int], ...] = (
    ("m6", 85, 165), ("f2", 55, 172), ("m3", 5, 155), ("f3", 85, 165), ("m7", 65, 160),
    ("f1", 70, 178), ("m2", 20, 150), ("f5", 45, 160), ("m1", 75, 170), ("f4", 30, 158),
)

DEFAULT_CAST: dict[str, str] = {
    "heading": "narrator",
    "salutation": "narrator",
    "body": "narrator",
    "narration": "narrator",
    "closing": "narrator",
    "signature": "narrator",
    "note": "notes",
    "playlist": "notes",
    "song": "notes",
    "lyrics": "lyrics",
    "speech": "dialogue",     # a line of dialogue whose speaker is not known (or --dialogue one)
    "thought": "narrator",    # an italic thought whose thinker is not known
    "message": "dialogue",    # a text or chat message
    "header": "notes",
    "outro": "notes",
}

NOT_PROFILES = frozenset({"lexicon"})   # other TOML files that live in voices/
GENDERS = ("male", "female")
_FIELDS = {f.name for f in fields(VoiceProfile)} - {"name"}


def load_profile(path: Path) -> VoiceProfile:
    """One profile from a TOML file; its name is the file's stem."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise VoiceError(f"cannot read voice profile ({exc})", path) from None
    except tomllib.TOMLDecodeError as exc:
        raise VoiceError(f"voice profile is not valid TOML ({exc})", path) from None
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise VoiceError(
            f"unknown setting(s) {', '.join(unknown)}; a profile may set {', '.join(sorted(_FIELDS))}",
            path,
        )

    def text(key: str, default: str | None) -> str | None:
        value = data.get(key, default)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise VoiceError(f"{key} must be a non-empty string", path)
        return value.strip() if isinstance(value, str) else value

    def number(key: str, default: float, low: float, high: float, kind: type) -> float:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            kind is int and not float(value).is_integer()
        ):
            raise VoiceError(f"{key} must be a number between {low} and {high}", path)
        if not low <= value <= high:
            raise VoiceError(f"{key} = {value} is out of range ({low}-{high})", path)
        return kind(value)

    variant = text("variant", None)
    gender = text("gender", None)
    model = text("model", None)
    if model is not None and (model.endswith(".onnx") or "/" in model or "\\" in model):
        model = str((path.parent / Path(model).expanduser()).resolve())   # a path: relative to the profile
    speaker = data.get("speaker")
    if speaker is not None:
        if isinstance(speaker, bool) or not isinstance(speaker, (str, int)) or not str(speaker).strip():
            raise VoiceError("speaker must be a speaker's name or number", path)
        speaker = str(speaker).strip()
    if gender is not None:
        gender = gender.lower()
        if gender not in GENDERS:
            raise VoiceError(f"gender must be one of {', '.join(GENDERS)} (or left out)", path)
    return VoiceProfile(
        name=path.stem,
        engine=text("engine", "pyttsx3"),
        voice=text("voice", None),
        language=text("language", "en"),
        gender=gender,
        rate=number("rate", 160, 60, 500, int),
        pitch=number("pitch", 50, 0, 100, int),
        volume=number("volume", 1.0, 0.0, 1.0, float),
        variant=variant,
        model=model,
        speaker=speaker,
    )


def load_profiles(dirs: list[Path] | None = None) -> dict[str, VoiceProfile]:
    """Every profile in `dirs` (default: paths.voices_dirs()); earlier folders win."""
    found: dict[str, VoiceProfile] = {}
    for folder in paths.voices_dirs() if dirs is None else dirs:
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            if path.stem in NOT_PROFILES or path.stem in found:
                continue
            found[path.stem] = load_profile(path)
    return found


def for_engine(profiles: dict[str, VoiceProfile], engine: str | None) -> dict[str, VoiceProfile]:
    """Every profile spoken by `engine` (None: as the profiles say). A profile
    `<name>-<engine>` takes the place of `<name>` (under that name) where there is one."""
    if not engine:
        return dict(profiles)
    out = {}
    for name, profile in profiles.items():
        own = profiles.get(f"{name}-{engine}")
        if own is not None and own.engine == engine:
            out[name] = replace(own, name=name)
        else:
            out[name] = profile if profile.engine == engine else replace(profile, engine=engine)
    return out


def _subtags(language: str) -> list[str]:
    return [t for t in language.strip().lower().replace("_", "-").split("-") if t]


def with_accent(profiles: dict[str, VoiceProfile], language: str | None) -> dict[str, VoiceProfile]:
    """Profiles in the work's language, with the work's accent when it names one: a work in
    "en-GB" is read by the "en-us" profiles in British English; a work in plain "en" keeps
    each profile's own accent (the narrator's is American, voices/narrator.toml)."""
    wanted = _subtags(language or "")
    if len(wanted) < 2:
        return dict(profiles)
    return {
        name: replace(p, language="-".join(wanted)) if _subtags(p.language)[:1] == wanted[:1] and not p.voice else p
        for name, p in profiles.items()
    }


def with_language(profiles: dict[str, VoiceProfile], language: str | None) -> dict[str, VoiceProfile]:
    """Profiles that read a work written in `language`. English (or none): `with_accent`.
    Another language: every profile speaks it (the engine then picks its voice for that
    language), keeping its rate, pitch, gender and variant, so that the narrator, the notes
    and the characters still sound apart. A profile that names an engine voice id keeps it:
    that voice was chosen on purpose."""
    wanted = _subtags(language or "")
    if not wanted or wanted[0] == "en":
        return with_accent(profiles, language)
    tag = "-".join(wanted)
    out = {}
    for name, p in profiles.items():
        own = _subtags(p.language)
        if p.voice or (own[:1] == wanted[:1] and len(wanted) < 2):
            out[name] = p                  # its own voice, or the work's language already (its accent kept)
        else:
            out[name] = replace(p, language=tag)
    return out


def parse_voice_overrides(specs: list[str] | tuple[str, ...] | None) -> dict[str, str]:
    """["note=narrator", ...] (the CLI's --voice ROLE=PROFILE) -> {"note": "narrator"}."""
    out: dict[str, str] = {}
    for spec in specs or ():
        role, sep, profile = spec.partition("=")
        role, profile = role.strip(), profile.strip()
        if not sep or not role or not profile:
            raise VoiceError(f"--voice {spec!r}: write ROLE=PROFILE, e.g. note=narrator")
        if role not in CAST_ROLES:
            raise VoiceError(f"--voice {spec!r}: unknown role {role!r}; roles: {', '.join(CAST_ROLES)}")
        out[role] = profile
    return out


def resolve_cast(
    profiles: dict[str, VoiceProfile],
    sidecar: dict[str, str] | None = None,
    overrides: dict[str, str] | None = None,
) -> dict[str, str]:
    """Role -> profile name for every speakable role (and header/outro).

    Raises VoiceError for an unknown role or profile, listing what is available."""
    table = dict(DEFAULT_CAST)
    for source, mapping in (("the sidecar's [cast]", sidecar or {}), ("--voice", overrides or {})):
        for role, name in mapping.items():
            if role not in CAST_ROLES:
                if source == "--voice":
                    raise VoiceError(f"{source}: unknown role {role!r}; roles: {', '.join(CAST_ROLES)}")
                continue                 # the sidecar also casts characters by name: see cast()
            if name not in profiles:
                raise VoiceError(
                    f"{source}: unknown voice profile {name!r} for {role}; "
                    f"profiles: {', '.join(sorted(profiles)) or 'none'}"
                )
            table[role] = name
    for role, name in table.items():
        if name not in profiles:
            raise VoiceError(
                f"no voice profile {name!r} (for {role}); profiles: {', '.join(sorted(profiles)) or 'none'}; "
                f"add voices/{name}.toml or cast the role with --voice ROLE=PROFILE"
            )
    return table


SKIPPABLE = ("note", "lyrics")   # --notes skip, --lyrics skip


def cast(
    script: Script,
    profiles: dict[str, VoiceProfile],
    overrides: dict[str, str] | None = None,
    skip: frozenset[str] | set[str] = frozenset(),
    dialogue: str = "characters",
) -> Script:
    """A new Script whose spoken segments carry a voice profile name (silent ones None), and
    whose dialogue spans carry theirs.

    Roles in `skip` (author's notes, lyrics) are not read: their segments say nothing.
    `dialogue`: "off", every span in its paragraph's voice; "one", speech and messages in
    the dialogue voice; "characters" (default), each character in a voice of their own (the
    sidecar's [cast] may name one: `Alec = "narrator"`), lines nobody can be told to say in
    the dialogue voice. Character voices are added to `Script.profiles`."""
    if dialogue not in DIALOGUE_MODES:
        raise VoiceError(f"--dialogue {dialogue!r}: choose one of {', '.join(DIALOGUE_MODES)}")
    sidecar = script.document.meta.cast
    for key in sidecar:
        if key not in CAST_ROLES and key not in script.characters:
            raise VoiceError(
                f"the sidecar's [cast]: unknown role or character {key!r}; roles: {', '.join(CAST_ROLES)}; "
                f"characters who speak: {', '.join(script.characters) or 'none'}"
            )
    table = resolve_cast(profiles, sidecar, overrides)
    for seg in script.segments:
        if seg.role not in SILENT_ROLES and seg.role not in table:
            raise VoiceError(f"segment {seg.index}: no voice for role {seg.role!r}; roles: {', '.join(CAST_ROLES)}")
    characters = character_profiles(script.characters, profiles, table, sidecar) if dialogue == "characters" else {}

    def span_voice(seg_voice: str, kind: str, speaker: str | None) -> str:
        if dialogue == "off" or kind == "narration" or speaker == "I":
            return seg_voice
        if dialogue == "characters" and speaker in characters:
            return characters[speaker].name
        return seg_voice if kind == "thought" else table[kind]

    segments = []
    for seg in script.segments:
        if seg.role in skip:
            segments.append(replace(seg, voice=None, speech="", spans=()))
            continue
        voice = None if seg.role in SILENT_ROLES else table[seg.role]
        spans = tuple(replace(sp, voice=span_voice(voice, sp.kind, sp.speaker)) for sp in seg.spans)
        segments.append(replace(seg, voice=voice, spans=spans))
    return replace(script, segments=tuple(segments), profiles={p.name: p for p in characters.values()})


def character_profiles(
    characters: dict[str, str],
    profiles: dict[str, VoiceProfile],
    table: dict[str, str],
    sidecar: dict[str, str] | None = None,
) -> dict[str, VoiceProfile]:
    """A voice profile for each character (name -> profile), in order of first appearance:
    the sidecar's choice, else the next unused character voice of their gender (any, when
    the text does not tell)."""
    sidecar = sidecar or {}
    base = profiles[table["speech"]]
    free = list(CHARACTER_VOICES)
    out: dict[str, VoiceProfile] = {}
    for name, gender in characters.items():
        if name in sidecar:
            if sidecar[name] not in profiles:
                raise VoiceError(
                    f"the sidecar's [cast]: unknown voice profile {sidecar[name]!r} for {name}; "
                    f"profiles: {', '.join(sorted(profiles))}"
                )
            out[name] = profiles[sidecar[name]]
            continue
        if not free:
            free = list(CHARACTER_VOICES)                    # a big cast: voices come round again
        want = {"he": "m", "she": "f"}.get(gender, "")
        pick = next((v for v in free if v[0].startswith(want)), free[0])
        free.remove(pick)
        variant, pitch, rate = pick
        out[name] = replace(base, name=f"character {name}", variant=variant, pitch=pitch, rate=rate, gender=None)
    return out


@dataclass(frozen=True)
class Listing:
    """What `audiofic voices` shows: the profiles, the voice each resolves to, each engine's voices."""

    profiles: dict[str, VoiceProfile]
    resolved: dict[str, str]                       # profile -> voice id, or why it cannot speak
    engines: dict[str, list | str]                 # engine -> its installed voices, or why there are none


def describe(engine: str | None = None) -> Listing:
    """The profiles (spoken by `engine`, else by their own), the voices they resolve to, and
    the voices of that engine (else of pyttsx3 and Piper). An engine that is not installed
    is said so, not raised: the listing shows what works."""
    from .engines import get_engine
    from .errors import AudioficError

    profiles = for_engine(load_profiles(), engine)
    names = [engine] if engine else list(dict.fromkeys(["pyttsx3", "piper", *(p.engine for p in profiles.values())]))
    engines: dict[str, list | str] = {}
    for name in names:
        try:
            engines[name] = get_engine(name).voices()
        except AudioficError as exc:
            engines[name] = exc.message
    resolved = {}
    for name, profile in profiles.items():
        try:
            resolved[name] = get_engine(profile.engine).resolve(profile)
        except AudioficError as exc:
            resolved[name] = f"({exc.message})"
    if engine and isinstance(engines[engine], str):
        raise VoiceError(engines[engine])          # --engine NAME that is not there: one line
    return Listing(profiles, resolved, engines)
