"""The bare pipeline audiofic is measured against: `espeak-ng --stdout TEXT | ffmpeg ... out.mp3`.

eSpeak NG speaks the whole text in one call, its raw 16-bit PCM (22,050 Hz mono) goes
through a real pipe into ffmpeg, which encodes mono 44.1 kHz 64 kbit/s CBR MP3. Nothing
else: no segmenting, caching, pauses, loudness, limiter or tags.

There is no espeak-ng command on the machine and none is needed: libespeak-ng and its data
come from the `espeakng-loader` wheel (loaded with ctypes, AUDIO_OUTPUT_SYNCHRONOUS mode),
ffmpeg from the `imageio-ffmpeg` wheel. Both processes run at the same time; the synth
callback writes each buffer straight into ffmpeg's stdin.

    python bench/bare.py TEXT OUT.mp3 [--voice gmw/en] [--rate 160] [--pitch 50] [--volume 100]
    python bench/bare.py TEXT - > pcm.raw      # raw PCM to stdout, like `espeak-ng --stdout`

In MP3 mode it prints one JSON line: samples spoken, sample rate, audio seconds, wall seconds.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import subprocess
import sys
import time
from pathlib import Path

AUDIO_OUTPUT_SYNCHRONOUS = 2
espeakCHARS_UTF8 = 1
espeakRATE, espeakVOLUME, espeakPITCH = 1, 2, 3
POS_CHARACTER = 1
EE_OK = 0

SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


def load_espeak() -> tuple[ctypes.CDLL, int]:
    """libespeak-ng from the espeakng-loader wheel, initialised for synchronous output."""
    import espeakng_loader

    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetSynthCallback.restype = None
    lib.espeak_SetSynthCallback.argtypes = [SYNTH_CALLBACK]
    lib.espeak_SetVoiceByName.restype = ctypes.c_int
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetParameter.restype = ctypes.c_int
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_Synth.restype = ctypes.c_int
    lib.espeak_Synth.argtypes = [
        ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
        ctypes.c_uint, ctypes.POINTER(ctypes.c_uint), ctypes.c_void_p,
    ]
    lib.espeak_Synchronize.restype = ctypes.c_int
    lib.espeak_Terminate.restype = ctypes.c_int
    data = os.path.dirname(espeakng_loader.get_data_path())   # the folder holding espeak-ng-data
    rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 500, data.encode(), 0)
    if rate <= 0:
        raise SystemExit(f"bare.py: espeak_Initialize failed ({rate})")
    return lib, rate


def speak(text: str, sink, *, voice: str, rate: int, pitch: int, volume: int) -> tuple[int, int]:
    """Speak `text` into `sink` (a binary file object). Returns (samples written, sample rate)."""
    lib, sample_rate = load_espeak()
    if lib.espeak_SetVoiceByName(voice.encode()) != EE_OK:
        raise SystemExit(f"bare.py: unknown eSpeak voice {voice!r}")
    for param, value in ((espeakRATE, rate), (espeakVOLUME, volume), (espeakPITCH, pitch)):
        lib.espeak_SetParameter(param, value, 0)
    written = 0

    def on_audio(wav, count, _events):
        nonlocal written
        if count > 0:
            sink.write(ctypes.string_at(wav, count * 2))
            written += count
        return 0   # 0: go on

    callback = SYNTH_CALLBACK(on_audio)     # keep a reference while eSpeak may call it
    lib.espeak_SetSynthCallback(callback)
    data = text.encode("utf-8") + b"\0"
    status = lib.espeak_Synth(data, len(data), 0, POS_CHARACTER, 0, espeakCHARS_UTF8, None, None)
    if status != EE_OK:
        raise SystemExit(f"bare.py: espeak_Synth failed ({status})")
    lib.espeak_Synchronize()
    lib.espeak_Terminate()
    return written, sample_rate


def ffmpeg_command(out: Path, sample_rate: int = 22050, bitrate: int = 64) -> list[str]:
    import imageio_ffmpeg

    return [
        imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "s16le", "-ar", str(sample_rate), "-ac", "1", "-i", "pipe:0",
        "-ar", "44100", "-ac", "1", "-c:a", "libmp3lame", "-b:a", f"{bitrate}k", str(out),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("text", type=Path)
    parser.add_argument("out", help="MP3 to write, or - for raw PCM on stdout")
    parser.add_argument("--voice", default="gmw/en", help="eSpeak voice name (narrator profile: en, male -> gmw/en)")
    parser.add_argument("--rate", type=int, default=160, help="words per minute (narrator profile: 160)")
    parser.add_argument("--pitch", type=int, default=50)
    parser.add_argument("--volume", type=int, default=100)
    parser.add_argument("--bitrate", type=int, default=64)
    args = parser.parse_args(argv)
    text = args.text.read_text(encoding="utf-8-sig")
    settings = dict(voice=args.voice, rate=args.rate, pitch=args.pitch, volume=args.volume)
    started = time.perf_counter()
    if args.out == "-":
        samples, sample_rate = speak(text, sys.stdout.buffer, **settings)
        sys.stdout.buffer.flush()
        return 0
    # eSpeak NG's output rate is 22,050 Hz for every voice; ffmpeg starts first so it can
    # read while eSpeak is still speaking.
    proc = subprocess.Popen(ffmpeg_command(Path(args.out), 22050, args.bitrate), stdin=subprocess.PIPE)
    try:
        samples, sample_rate = speak(text, proc.stdin, **settings)
        proc.stdin.close()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    if proc.wait() != 0:
        print("bare.py: ffmpeg failed", file=sys.stderr)
        return 1
    if sample_rate != 22050:
        print(f"bare.py: eSpeak produced {sample_rate} Hz, not 22050", file=sys.stderr)
        return 1
    print(json.dumps({
        "samples": samples,
        "sample_rate": sample_rate,
        "audio_s": round(samples / sample_rate, 3),
        "wall_s": round(time.perf_counter() - started, 3),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
