"""Speak texts with the piper engine in a fresh process (for tests/test_piper.py).

    python -m tests.piper_say '{"noise": [0, 0], "items": [[text, profile fields, out.wav], ...]}'

A test process may already hold libespeak-ng (loaded globally by the pyttsx3 engine), whose
symbols would stand in for those of the eSpeak NG inside Piper's phonemizer: Piper speaks
in a process of its own, as synth.speak makes it do.
"""

import json
import sys
from pathlib import Path

from audiobook.engines import get_engine
from audiobook.models import VoiceProfile

job = json.loads(sys.argv[1])
engine = get_engine("piper")
engine.noise = tuple(job["noise"]) if job.get("noise") is not None else None
for text, fields, out in job["items"]:
    engine.synthesize(text, VoiceProfile(**fields), Path(out))
