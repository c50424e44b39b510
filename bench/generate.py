"""A generated multi-chapter work of any length, for timing audiofic on long texts.

Deterministic (same --words and --seed, same bytes) prose shaped like real fic: an author's
note before the story, "Chapter N: Title" headings, narration paragraphs with dialogue, a
few scene breaks, one letter (salutation, body, closing, signature) in a middle chapter,
and end notes with a playlist ("Title - Artist" lines). Sentences are drawn from a large
vocabulary so every paragraph is different text: the clip cache cannot help.

    python bench/generate.py --words 30000 -o /tmp/work/long-work.txt   # + long-work.toml
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

NAMES = [
    "Mara", "Jonah", "Ilse", "Theo", "Priya", "Caspian", "Wren", "Dorian", "Soren", "Lucia",
    "Amos", "Tamsin", "Felix", "Odette", "Rafael", "Nadia", "Ezra", "Celeste", "Bram", "Ines",
]
PLACES = [
    "the harbour", "the old library", "the train station", "the bakery on Elm Street", "the rooftop",
    "the riverbank", "the empty classroom", "the greenhouse", "the lighthouse", "the market square",
    "the chapel", "the abandoned mill", "the hospital corridor", "the ferry", "the orchard",
    "the archive", "the bus shelter", "the boathouse", "the observatory", "the kitchen",
]
NOUNS = [
    "lantern", "letter", "umbrella", "violin", "compass", "photograph", "scarf", "notebook", "key",
    "teacup", "window", "staircase", "blanket", "map", "ticket", "bracelet", "candle", "mirror",
    "envelope", "suitcase", "radio", "clock", "pendant", "sketchbook", "bicycle", "garden",
    "harmonica", "telescope", "postcard", "thermos", "coat", "record player", "bookshelf",
    "chessboard", "kettle", "ribbon", "lamp", "doorway", "fence", "ladder", "orange", "storm",
]
ADJECTIVES = [
    "quiet", "battered", "silver", "crooked", "warm", "faded", "brittle", "enormous", "tiny",
    "golden", "damp", "familiar", "strange", "heavy", "careful", "restless", "pale", "bright",
    "dusty", "gentle", "stubborn", "hollow", "tangled", "sudden", "patient", "reckless", "soft",
    "bitter", "sweet", "ancient", "lonely", "crowded", "narrow", "endless", "fragile", "wild",
]
VERBS = [
    "picked up", "turned over", "studied", "carried", "hid", "dropped", "polished", "opened",
    "folded", "traced", "returned", "borrowed", "mended", "examined", "abandoned", "guarded",
    "described", "remembered", "painted", "packed", "unwrapped", "counted", "followed", "noticed",
]
FEELINGS = [
    "relief", "dread", "curiosity", "tenderness", "regret", "hope", "embarrassment", "anger",
    "longing", "gratitude", "suspicion", "joy", "grief", "impatience", "wonder", "guilt",
]
ADVERBS = [
    "slowly", "quietly", "carefully", "suddenly", "reluctantly", "absently", "eagerly", "gently",
    "stubbornly", "nervously", "softly", "briskly", "patiently", "sharply", "fondly", "warily",
]
WEATHER = [
    "Rain drummed against the glass", "The wind had picked up", "Snow was falling again",
    "The afternoon light was turning amber", "Fog rolled in from the water",
    "A thunderstorm muttered somewhere far off", "The night was clear and cold",
    "The heat had not broken all week", "The first leaves were turning",
]
SAYING = ["said", "whispered", "muttered", "asked", "admitted", "called", "murmured", "replied"]
TITLES = [
    "Small Hours", "The Long Way Home", "Paper Boats", "What the River Knew", "Borrowed Light",
    "Salt and Static", "The Quiet Part", "North of Here", "Glass Houses", "After the Rain",
    "Someone Like Weather", "The Last Ferry", "Ink", "Half a Map", "Lanterns", "Open Windows",
    "Stray Thoughts", "The Third Winter", "Undertow", "Small Mercies",
]
SONGS = [
    ("Harbour Lights", "The Paper Kites"), ("Slow Dancing in the Kitchen", "Maple & Vine"),
    ("Northern Wind", "Ellis Gray"), ("Letters I Never Sent", "The Lanterns"),
    ("Paper Planes & Tin Cans", "Juniper Row"), ("Run to the Water", "Caspian Bell"),
]


def _a(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def _sentence(rng: random.Random, cast: list[str]) -> str:
    a, b = rng.sample(cast, 2)
    noun, noun2 = rng.sample(NOUNS, 2)
    adj, adj2 = rng.sample(ADJECTIVES, 2)
    kind = rng.randrange(9)
    if kind == 0:
        return f"{a} {rng.choice(VERBS)} the {adj} {noun} and felt a flicker of {rng.choice(FEELINGS)}."
    if kind == 1:
        return f"{rng.choice(WEATHER)}, and {a} {rng.choice(ADVERBS)} watched {b} cross {rng.choice(PLACES)}."
    if kind == 2:
        return f"\"I {rng.choice(VERBS)} your {noun} at {rng.choice(PLACES)},\" {a} {rng.choice(SAYING)}."
    if kind == 3:
        return f"\"Why would anyone keep {_a(adj)} {noun}?\" {b} {rng.choice(SAYING)}, not looking up."
    if kind == 4:
        return f"There was {_a(adj)} {noun} beside the {adj2} {noun2}, exactly where {b} had left it {rng.randint(2, 29)} days ago."
    if kind == 5:
        return f"{a} thought about {rng.choice(PLACES)}, about the {noun}, about how {rng.choice(FEELINGS)} could look so much like {rng.choice(FEELINGS)}."
    if kind == 6:
        return f"Neither of them mentioned the {noun2}; {b} {rng.choice(ADVERBS)} {rng.choice(VERBS)} the {adj2} {noun} instead."
    if kind == 7:
        return f"It was {rng.choice(['almost', 'nearly', 'well past', 'barely'])} {rng.randint(1, 12)} o'clock when {a} finally reached {rng.choice(PLACES)}."
    return f"{b} laughed, {rng.choice(ADVERBS)}, and the {adj} sound filled {rng.choice(PLACES)} like {rng.choice(FEELINGS)}."


def _paragraph(rng: random.Random, cast: list[str], words: int) -> str:
    out: list[str] = []
    count = 0
    while count < words:
        s = _sentence(rng, cast)
        out.append(s)
        count += len(s.split())
    return " ".join(out)


def generate(words: int, seed: int = 1) -> str:
    """Text of about `words` words (never fewer)."""
    rng = random.Random(seed)
    chapters = max(2, round(words / 3000))
    per_chapter = words / chapters
    blocks: list[str] = [
        "A/N: Thank you so much to everyone who has read, reviewed and left kudos on this story. "
        "Sorry this update took so long; real life got in the way. I hope you enjoy it!",
    ]
    letter_at = chapters // 2 + 1
    breaks_at = {max(1, chapters // 4), chapters // 2, (3 * chapters) // 4} - {0}
    total = len(blocks[0].split())
    for number in range(1, chapters + 1):
        cast = rng.sample(NAMES, 4)
        blocks.append(f"Chapter {number}: {rng.choice(TITLES)}")
        target = per_chapter * number
        paragraphs_written = 0
        while total < min(target, words) or paragraphs_written < 2:
            if number in breaks_at and paragraphs_written == 6:
                blocks.append("* * *")
            if number == letter_at and paragraphs_written == 4:
                a, b = cast[0], cast[1]
                letter = [f"Dear {b},"]
                letter += [_paragraph(rng, cast, rng.randint(50, 90)) for _ in range(3)]
                letter += ["All my love,", a]
                blocks += letter
                total += sum(len(p.split()) for p in letter)
            para = _paragraph(rng, cast, rng.randint(45, 140))
            blocks.append(para)
            total += len(para.split())
            paragraphs_written += 1
    blocks.append("End notes: thank you again for reading this story, and for all your patience with the slow updates. See you next time!")
    blocks.append("These are the songs I was listening to while I wrote this:\n" + "\n".join(f"{t} - {a}" for t, a in SONGS))
    return "\n\n".join(blocks) + "\n"


SIDECAR = """\
title = "Bench Work {words}"
author = "Bench Author"
fandom = "Original Work"
summary = "A generated {words}-word multi-chapter work for benchmarks (bench/generate.py, seed {seed})."
rating = "General Audiences"
warnings = []
language = "en"
"""


def write_work(path: Path, words: int, seed: int = 1) -> int:
    """Write `path` (.txt) and its sidecar (.toml). Returns the number of words written."""
    text = generate(words, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.with_suffix(".toml").write_text(SIDECAR.format(words=words, seed=seed), encoding="utf-8")
    return len(text.split())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a generated multi-chapter work and its sidecar.")
    parser.add_argument("--words", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("-o", "--output", type=Path, required=True, help="the .txt to write (sidecar .toml next to it)")
    args = parser.parse_args(argv)
    n = write_work(args.output, args.words, args.seed)
    print(f"{args.output}: {n} words")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
