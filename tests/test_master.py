"""Mastering: our loudness meter against ffmpeg's, and the encoder's output read by ffprobe."""

from __future__ import annotations

import wave

import numpy as np
import pytest

from audiobook import master
from audiobook.errors import RenderError
from tests.audio_checks import ebur128, ffprobe, needs_ffprobe

RATE = 22050


def speechlike(seconds: float, seed: int = 1) -> np.ndarray:
    """Bursts of filtered noise and tones with gaps: loud peaks, gated silences, like TTS."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    carrier = 0.5 * np.sin(2 * np.pi * 180 * t) + 0.3 * np.sin(2 * np.pi * 720 * t) + 0.2 * rng.standard_normal(t.size)
    envelope = (np.sin(2 * np.pi * 2.5 * t) > -0.2).astype(float) * (np.sin(2 * np.pi * 0.3 * t) > -0.7)
    return (carrier * envelope * 0.9).astype(np.float32)


def write_wav(path, x: np.ndarray, rate: int = RATE) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())


@needs_ffprobe
def test_meter_agrees_with_ffmpeg_ebur128(tmp_path):
    x = speechlike(20)
    write_wav(tmp_path / "x.wav", x)
    reference, _ = ebur128(tmp_path / "x.wav")
    # fed in odd-sized chunks: the filter state must carry across them
    meter = master.LoudnessMeter(RATE)
    for start in range(0, x.size, 12345):
        meter.feed(x[start:start + 12345])
    assert meter.integrated() == pytest.approx(reference, abs=0.3)


def test_silence_measures_minus_infinity_and_gets_no_gain():
    assert master.measure([np.zeros(RATE * 3, dtype=np.float32)], RATE) == float("-inf")
    assert master.gain_for(float("-inf")) == 0.0


@needs_ffprobe
def test_encode_writes_cbr_mono_44k_with_target_loudness(tmp_path):
    x = speechlike(30, seed=2)
    gain = 10 ** (master.speech_gain_db(master.measure([x], RATE), x[: RATE * 10], RATE) / 20)
    out = tmp_path / "out.mp3"
    master.encode((x[i:i + RATE] * gain for i in range(0, x.size, RATE)), RATE, out, bitrate=64)
    info = ffprobe(out)
    stream = info["streams"][0]
    assert stream["codec_name"] == "mp3"
    assert int(stream["sample_rate"]) == 44100
    assert stream["channels"] == 1
    assert int(stream["bit_rate"]) == 64000
    assert float(info["format"]["duration"]) == pytest.approx(30, abs=0.1)
    head = out.read_bytes()[:2000]
    assert not head.startswith(b"ID3")           # tags are tag.py's job
    # the Xing/LAME "Info" frame of a CBR file (after the 4-byte header and 17 bytes of side info):
    # it carries the frame count and encoder delay, so every app gets duration and seeking exact
    assert head[21:25] == b"Info"
    lufs, peak = ebur128(out)
    # the make-up for limiter and encoder losses lands it close, not merely within the 1 LU allowed
    assert lufs == pytest.approx(master.MONO_TARGET_LUFS, abs=0.5)
    assert peak <= -1.0


def test_missing_ffmpeg_is_a_clear_error(tmp_path, monkeypatch):
    # ffmpeg decodes the loudness sample's round trip through the encoder
    monkeypatch.setenv("AUDIOFIC_FFMPEG", str(tmp_path / "no-ffmpeg"))
    with pytest.raises(RenderError, match="ffmpeg not found"):
        master.encoded_lufs(speechlike(3), RATE, 0.0)


def test_unwritable_output_is_a_clear_error(tmp_path):
    with pytest.raises(RenderError, match="cannot write the episode"):
        master.encode([np.zeros(RATE, dtype=np.float32)], RATE, tmp_path / "missing" / "x.mp3")
    assert not (tmp_path / "missing").exists()


# ---- the limiter -------------------------------------------------------------------------------


def _limited(x: np.ndarray, step: int, rate: int = RATE, **kw) -> np.ndarray:
    limiter = master.Limiter(rate, **kw)
    out = [limiter.process(x[i:i + step]) for i in range(0, x.size, step)]
    return np.concatenate([*out, limiter.flush()])


@pytest.mark.parametrize("step", [1, 37, 4410, 10**7])
def test_limiter_keeps_every_sample_under_the_ceiling_in_any_chunking(step):
    x = speechlike(4, seed=5) * 2.5                                # peaks ~8 dB over 0 dBFS
    x[1000] = 40.0                                                # and one absurd spike
    y = _limited(x, step)
    assert y.size == x.size
    assert np.abs(y).max() <= 10 ** (master.LIMIT_DBFS / 20) * (1 + 1e-6)
    assert np.array_equal(y, _limited(x, 10**7))                  # streaming changes nothing
    gain = y[np.abs(x) > 0.05] / x[np.abs(x) > 0.05]
    assert gain.max() <= 1.0 + 1e-6 and gain.min() > 0


def test_limiter_gives_back_every_sample_whatever_the_length():
    """Lengths that leave whole blocks held back at the end once lost them (flush() returned
    nothing when the padded run gave exactly what was owed): 66 samples of a seed stretch."""
    rng = np.random.default_rng(3)
    block = master.Limiter(RATE).block
    for n in [*range(1, 5 * block), 136158, 7166 + 110250 + 18742, block * 1000]:
        x = (rng.standard_normal(n) * 0.5).astype(np.float32)
        for step in (7, block, 4410):
            assert _limited(x, step).size == n, (n, step)


def test_limiter_leaves_quiet_audio_untouched_and_moves_its_gain_smoothly():
    x = speechlike(4, seed=6) * 0.3
    assert np.abs(x).max() < 10 ** (master.LIMIT_DBFS / 20)
    assert np.array_equal(_limited(x, 4410), x)
    # a tone with one loud burst: the gain ramps down before it and back up after, no steps
    t = np.arange(RATE * 2) / RATE
    tone = (0.5 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    tone[RATE:RATE + 2000] *= 3
    y = _limited(tone, 4410)
    gain = np.abs(y) / np.maximum(np.abs(tone), 1e-9)
    loud = np.abs(tone) > 0.2
    steps = np.abs(np.diff(20 * np.log10(gain[loud])))
    assert steps.max() < 1.5                                      # dB between neighbouring loud samples
    before = gain[RATE - 200:RATE][np.abs(tone[RATE - 200:RATE]) > 0.2]
    assert before.min() < 0.9                                     # it looked ahead
    assert np.all(gain[RATE + 2000 + RATE // 2:][loud[RATE + 2000 + RATE // 2:]] > 0.999)   # and recovered


@needs_ffprobe
def test_stretches_join_into_one_file_and_the_timeline_finds_every_click(tmp_path):
    """Three stretches encoded apart and joined: clicks land where Timeline.ms says."""
    import subprocess

    from tests.audio_checks import FFMPEG

    lengths = [RATE * 3 + 17, RATE * 2 + 1001, RATE * 4 + 5]
    clicks = [RATE, RATE // 2, 3 * RATE]        # one click per stretch, at these offsets
    starts = [0, lengths[0], lengths[0] + lengths[1]]

    def samples(n, at):
        x = np.zeros(n, dtype=np.float32)
        x[at] = 0.5
        return lambda: [x[: n // 2], x[n // 2:]]

    stretches = [
        master.Stretch(start=s, length=n, samples=samples(n, c), key=f"{i:02d}test{n}")
        for i, (s, n, c) in enumerate(zip(starts, lengths, clicks))
    ]
    out = tmp_path / "joined.mp3"
    cache = tmp_path / "cache"
    timeline = master.encode_stretches(stretches, RATE, out, cache=cache, workers=2)
    info = ffprobe(out)
    # ffprobe's duration is the Info frame's frame count; a gapless decoder trims delay and padding
    assert float(info["format"]["duration"]) == pytest.approx(timeline.frames * master.FRAME / master.OUTPUT_RATE, abs=0.001)
    assert out.read_bytes()[21:25] == b"Info"
    decoded = subprocess.run([FFMPEG, "-v", "error", "-i", str(out), "-f", "f32le", "-ac", "1", "-"], capture_output=True, check=True).stdout
    assert len(decoded) // 4 == timeline.samples
    y = np.abs(np.frombuffer(decoded, dtype="<f4"))
    found = sorted(np.argsort(-y)[:3])
    # each click is heard within a ms of where the timeline puts it
    assert [f * 1000 / 44100 for f in found] == pytest.approx([timeline.ms(s + c) for s, c in zip(starts, clicks)], abs=1.0)
    # a second encode takes every stretch from the cache: the sample makers are never called
    never = [master.Stretch(s.start, s.length, samples=lambda: (_ for _ in ()).throw(AssertionError("re-encoded")), key=s.key) for s in stretches]
    again = master.encode_stretches(never, RATE, tmp_path / "again.mp3", cache=cache)
    assert again == timeline and (tmp_path / "again.mp3").read_bytes() == out.read_bytes()


def test_clip_loudness_steps_are_stored_and_agree_with_one_pass(tmp_path):
    parts = [speechlike(6, seed=s) * (0.3 + 0.2 * s) for s in range(3)]
    paths = []
    for i, x in enumerate(parts):
        write_wav(tmp_path / f"{i}.wav", x)
        paths.append(tmp_path / f"{i}.wav")
    whole = master.measure([np.concatenate(parts)], RATE)
    assert master.speech_loudness(paths) == pytest.approx(whole, abs=0.2)
    assert all(master.steps_path(p).is_file() for p in paths)
    # a damaged steps file is measured again, not trusted
    master.steps_path(paths[0]).write_bytes(b"garbage")
    assert master.speech_loudness(paths) == pytest.approx(whole, abs=0.2)


def _crc16_bitwise(data: bytes) -> int:
    """CRC-16/ARC the slow, obvious way (reflected polynomial 0xA001, start 0)."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


@pytest.mark.parametrize("size", [0, 1, 63, 64, 1023, 1024, 1025, 5000, 70001, 3_000_017])
def test_crc16_matches_the_bitwise_definition_and_chains(size):
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    assert master.crc16(data) == _crc16_bitwise(data)
    cut = size // 3
    assert master.crc16(data[cut:], master.crc16(data[:cut])) == _crc16_bitwise(data)
    # what the join does: each stretch's CRC on its own, combined by shifting over the next
    head, tail = data[:cut], data[cut:]
    assert master.crc16_shift(_crc16_bitwise(head), len(tail)) ^ _crc16_bitwise(tail) == _crc16_bitwise(data)
    assert _crc16_bitwise(b"123456789") == 0xBB3D   # the published check value of CRC-16/ARC


@needs_ffprobe
def test_joined_file_has_an_info_frame_every_reader_agrees_with(tmp_path):
    """The Info frame written in Python: ffprobe and mutagen take the same duration from it,
    its LAME tag CRC checks out, and the audio decodes as if ffmpeg had joined the frames."""
    import subprocess

    from mutagen.mp3 import MP3

    from tests.audio_checks import FFMPEG

    x = speechlike(20, seed=5) * 0.5
    stretches = [
        master.Stretch(start=a, length=b - a, samples=(lambda a=a, b=b: [x[a:b]]))
        for a, b in ((0, RATE * 7), (RATE * 7, RATE * 13 + 11), (RATE * 13 + 11, x.size))
    ]
    ours = tmp_path / "ours.mp3"
    timeline = master.encode_stretches(stretches, RATE, ours, workers=2)
    frame = ours.read_bytes()[:208]
    assert frame[21:25] == b"Info"
    assert int.from_bytes(frame[29:33], "big") == timeline.frames
    assert int.from_bytes(frame[33:37], "big") == ours.stat().st_size
    # the tag's CRC covers every byte of the frame before it, as LAME computes it (ffmpeg's
    # demuxer checks it so, and only then reports the encoder: see the gapless test)
    assert int.from_bytes(frame[175:177], "big") == _crc16_bitwise(frame[:175])
    assert int.from_bytes(frame[173:175], "big") == _crc16_bitwise(ours.read_bytes()[208:])
    seconds = timeline.frames * master.FRAME / master.OUTPUT_RATE
    assert float(ffprobe(ours)["format"]["duration"]) == pytest.approx(seconds, abs=0.001)
    assert MP3(ours).info.length == timeline.samples / master.OUTPUT_RATE   # mutagen trims delay and padding
    # the same frames behind an Info frame of ffmpeg's own muxer (no delay or padding in it)
    # decode to the same samples, with the delay and padding left in
    theirs = tmp_path / "theirs.mp3"
    subprocess.run([FFMPEG, "-v", "error", "-i", str(ours), "-c", "copy", "-write_xing", "1", str(theirs)], check=True)

    def decoded(path):
        return subprocess.run([FFMPEG, "-v", "error", "-i", str(path), "-f", "s16le", "-"], capture_output=True, check=True).stdout

    ours_pcm, theirs_pcm = decoded(ours), decoded(theirs)
    assert len(ours_pcm) // 2 == timeline.samples
    skip = 2 * (master.LAME_DELAY - _lame_tag(theirs)[0])
    assert ours_pcm == theirs_pcm[skip:skip + len(ours_pcm)]


def _lame_tag(path) -> tuple[int, int]:
    """(encoder delay, padding) as mutagen reads them from the LAME tag."""
    from mutagen.mp3 import MP3
    from mutagen.mp3._util import XingHeader

    info = MP3(path).info
    with open(path, "rb") as f:
        f.seek(info.frame_offset + XingHeader.get_offset(info))
        lame = XingHeader(f).lame_header
    return lame.encoder_delay_start, lame.encoder_padding_end


@needs_ffprobe
@pytest.mark.parametrize("cuts", [(0,), (0, RATE * 7, RATE * 13 + 11), (0, RATE * 5 + 1, RATE * 9 + 3, RATE * 17 + 999)])
def test_gapless_the_lame_tag_trims_delay_and_padding_to_the_sample(tmp_path, cuts):
    """One stretch decodes to exactly its samples; joined stretches to the Timeline's count
    (each join keeps one stretch's padding and the next one's delay, inside a pause)."""
    import subprocess

    from mutagen.mp3 import MP3, BitrateMode

    from tests.audio_checks import FFMPEG

    x = speechlike(20, seed=7) * 0.5
    bounds = [*cuts, x.size]
    stretches = [master.Stretch(start=a, length=b - a, samples=(lambda a=a, b=b: [x[a:b]])) for a, b in zip(bounds, bounds[1:])]
    out = tmp_path / "gapless.mp3"
    timeline = master.encode_stretches(stretches, RATE, out, workers=2)
    delay, padding = _lame_tag(out)
    assert (delay, padding) == (master.LAME_DELAY, timeline.padding)
    assert 529 <= padding < master.LAME_DELAY + master.FRAME * 2          # LAME pads at least its delay
    info = MP3(out).info
    assert info.encoder_info == "LAME 3.100.0+" and info.encoder_settings == "-b 64"
    assert info.bitrate_mode == BitrateMode.CBR and info.bitrate == pytest.approx(64000, abs=50)
    assert round(info.length * master.OUTPUT_RATE, 6) == timeline.samples
    pcm = subprocess.run([FFMPEG, "-v", "error", "-i", str(out), "-f", "s16le", "-"], capture_output=True, check=True).stdout
    assert len(pcm) // 2 == timeline.samples
    assert ffprobe(out)["streams"][0]["tags"]["encoder"] == "LAME3.100"   # ffmpeg found the tag's CRC right
    if len(stretches) == 1:
        assert timeline.samples == x.size * master.OUTPUT_RATE // RATE    # nothing added, nothing lost
        assert timeline.ms(0) == 0 and timeline.duration_ms == 20000
    else:
        gaps = [n * master.FRAME for n in map(master.lame_frames, [2 * s.length for s in stretches[:-1]])]
        assert timeline.samples == sum(gaps) + 2 * stretches[-1].length
    assert timeline.frames == sum(master.lame_frames(2 * s.length) for s in stretches)
