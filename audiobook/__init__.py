"""audiofic: fan fiction chapters in, phone-ready audiobook episodes and podcast feeds out.

The pipeline, one stage per module (see README "How it works"):

    read.read        path            -> Document
    segment.segment  Document        -> Script
    voices.cast      Script, voices  -> Script
    synth.speak      Script, engine  -> Clips
    assemble         Clips, Script   -> Program
    master           Program         -> encoded MP3
    tag              Episode         -> tagged MP3 + sidecars
    feed / publish   folder          -> feed.xml / remote copy
"""

__version__ = "0.1.0"
