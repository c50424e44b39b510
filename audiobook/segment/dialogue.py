"""Dialogue: a story paragraph cut into spans (narration, speech, thought, message), and each
speech given its speaker where the text tells it.

Spans. Quoted speech is found with the text's own quote style: double quotes (straight or
curly) when its dialogue opens with them, else British single quotes (with nested doubles).
An apostrophe inside a word (don't, rock 'n' roll) or after one (the Lightwoods' car) is no
quote. A quotation is speech when it opens a sentence or clause, carries its own closing
punctuation, or is attributed ("..., Alec said"); a short quotation in mid-sentence with none
of these is a title, a sign or scare quotes, and stays narration ("all of that "in the
middle" trouble"). A speech left open at the end of a paragraph goes on in the next one
when that opens with a quote. Italics of three words or more (*...*, _..._, <em> in
downloads), or followed by "she thought", are thoughts. A chat line ("Alec: where are you")
and the line under a sender's header ("Rio 06:09 PM") are messages.

Speakers, from the strongest evidence to the weakest:
1. a speech verb next to the quote: "..., Alec said" / "..., said Alec" / Alec said, "...";
   a pronoun there ("she said") is the last character of that gender named, when the text
   shows who is he and who is she;
2. the other quotation of the same paragraph, when one is attributed (an interrupted line);
3. an action beat in the paragraph: its first sentence outside the quotes opens with a
   character's name ("Jace shrugged. "Whatever."");
4. a two-person exchange: a speech paragraph with none of the above, right after another,
   is the other person's line; a name said in the quote (a vocative, "Alec, wait") is the
   one spoken to.
Characters are the names attributed anywhere in the text (and the work's character tags); a
name seen only once in a beat is not trusted alone. When the evidence is weak the speaker
stays unknown: better than a wrong name. "I" is the narrator.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections import Counter
from dataclasses import dataclass

from .lines import CHAT_HEADER, CHAT_LINE
from .units import Unit

DIALOGUE_ROLES = frozenset({"narration", "body"})

_VERBS = (
    "said|says|say|asked|asks|ask|replied|replies|answered|answers|whispered|whispers|murmured|murmurs|"
    "muttered|mutters|shouted|shouts|yelled|yells|called|calls|cried|cries|snapped|snaps|added|adds|told|"
    "tells|continued|continues|began|begins|breathed|breathes|sighed|sighs|laughed|laughs|hissed|hisses|"
    "growled|growls|groaned|groans|agreed|agrees|admitted|admits|offered|offers|insisted|insists|demanded|"
    "demands|warned|warns|explained|explains|repeated|repeats|echoed|echoes|protested|protests|"
    "interrupted|interrupts|mumbled|mumbles|grumbled|grumbles|teased|teases|joked|jokes|countered|counters|"
    "retorted|retorts|snarled|snarls|sang|sings|drawled|drawls|chirped|chirps|exclaimed|exclaims|announced|"
    "announces|declared|declares|pleaded|pleads|begged|begs|suggested|suggests|noted|notes|observed|"
    "observes|corrected|corrects|stammered|stammers|stuttered|stutters|managed|manages|greeted|greets|"
    "quipped|quips|huffed|huffs|scoffed|scoffs|snorted|snorts|mused|muses|wondered|wonders|thought|thinks|"
    "spoke|speaks|screamed|screams|pointed out|points out|went on|goes on|finished|finishes|conceded|"
    "concedes|confirmed|confirms|promised|promises|prompted|prompts|urged|urges|ordered|orders|reminded|"
    "reminds|yelped|yelps|gasped|gasps|sobbed|sobs|giggled|giggles|grunted|grunts|barked|barks|murmered|"
    "talked|talks|chattered|chatters|rambled|rambles|chanted|chants|whooped|whoops|whined|whines|"
    "complained|complains|argued|argues|called out|calls out|shot back|fired back|cut in|cuts in|"
    "mouthed|mouths|purred|purrs|rasped|rasps|croaked|croaks|bellowed|bellows|roared|roars|"
    "squeaked|squeaks|squealed|squeals|wailed|wails|whimpered|whimpers|moaned|moans|blurted|blurts|"
    "reasoned|reasons|replied|responded|responds|recited|recites|"
    "muttered|cooed|coos|deadpanned|deadpans|intoned|intones|ventured|ventures|supplied|supplies"
)
_TITLES = r"(?:Mr|Mrs|Ms|Miss|Dr|Prof|Professor|Captain|Capt|Lt|Lieutenant|Sgt|Sergeant|Lord|Lady|Sir|Aunt|Uncle|Madam|Madame)\.?"
_NAME = rf"(?:{_TITLES}\s+)?[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+)?"
_SUBJECT = rf"(?P<name>{_NAME}|he|she|they|it|I|He|She|They|It|the\s+[a-z]+)"
_ADVERB = r"(?:[a-z]+ly\s+)?"
# A word that may be a verb of saying: checked against _VERB_SET after the match (one long
# alternation of verbs in each pattern would cost a tenth of a second to compile at import).
_VERB = r"[a-z]+(?:\s(?:out|on|back|in))?"
# After a quote: ", Alec said", " said Alec", ", he whispered softly".
_AFTER_SHAPE = re.compile(
    rf"^[\s,—–-]*(?:{_SUBJECT}\s+{_ADVERB}(?P<verb>{_VERB})\b|(?P<verb2>{_VERB})\s+(?P<name2>{_NAME}|he|she|they|I)\b)"
)
# Right after a quote, a name or pronoun and any verb: '"Talk to me," he tried again.'
_AFTER_ANY = re.compile(rf"^[\s,—–-]+(?P<name>{_NAME}|he|she|it|they)\s+(?P<verb>[a-z]+(?:ed|s))\b(?P<name2>)")
_NOT_NAMES = frozenset(
    "The A An But And Then When If As So It Its This That There These Those What Why How Who Where Yes No "
    "Oh Well Okay OK Maybe Perhaps Still Just Even Now Not Never Always Sometimes Later After Before "
    "Because Although Though While Once Her His Their Our My Your We You He She They I Me Him Them Us "
    "Nothing Everything Something Anything Nobody Everyone Someone Anyone God Please Thanks Sorry Hello Hi "
    "Hey Goodbye Bye Come Go Look Wait Stop Don't Let Tell Give Take Get Make Good Great Fine Right Sure "
    "Mom Mum Dad Mother Father Sir Ma'am Chapter Part".split()
)
_VERB_SET = frozenset(_VERBS.split("|"))


def _is_verb(word: str | None) -> bool:
    """A verb of saying ("said", "pointed out"; "said in" is "said" followed by "in")."""
    return bool(word) and (word in _VERB_SET or word.split()[0] in _VERB_SET)


def _verbed(m: re.Match | None) -> re.Match | None:
    """The match, if its verb is one of saying."""
    if m is None:
        return None
    return m if _is_verb(m.groupdict().get("verb") or m.groupdict().get("verb2")) else None


def _after(text: str) -> re.Match | None:
    return _verbed(_AFTER_SHAPE.match(text))
_PRONOUNS = frozenset({"he", "she", "they", "I", "He", "She", "They"})
_SENTENCE = re.compile(r"[^.!?…]+[.!?…]*")
_JOINT = re.compile(rf"^[\s,—–-]*{_NAME}\s+and\s+{_NAME}\s+{_ADVERB}(?P<verb>{_VERB})\b")
# "The archivist talked the whole way", "Alec began": a paragraph of speech may follow.
_TALKER = re.compile(rf"\s*(?P<name>[Tt]he\s+[a-z]+|{_NAME}|He|She)\s+{_ADVERB}(?P<verb>{_VERB})\b(?!\s+(?:to|about)\s+(?:him|her|them)self)")
_POSSESSIVE = re.compile(r"['’]s$")
_PRONOUN = re.compile(r"\b(?:he|him|his|himself|she|her|hers|herself)\b", re.IGNORECASE)
_HIS = frozenset({"he", "him", "his", "himself"})
_NAMES = re.compile(_NAME)
_OPENING_NAME = re.compile(rf"\s*({_NAME})\b")
_BEAT = re.compile(rf"\s*({_NAME}|He|She)\b(?!\s+and\s+[A-Z])")
_TITLED = re.compile(rf"{_TITLES}\s")
_LETTER = re.compile(r"[^\W\d_]")
_NEXT_WORD = re.compile(r"\s+([a-z]+)")
_ITALIC = re.compile(r"(?<![\w*])\*(?!\*)(?P<a>[^*\n]+?)\*(?![\w*])|(?<![\w_])_(?!_)(?P<b>[^_\n]+?)_(?![\w_])")
_THOUGHT_AFTER = re.compile(r"^[\s,—–-]*(?:\w+\s+)?(?:thought|wondered|thinks|wonders)\b")


@dataclass
class Piece:
    kind: str                 # narration / speech / thought / message
    start: int                # offsets in the unit's text
    end: int
    speaker: str | None = None
    open_end: bool = False    # a speech still open at the end of the paragraph


# --- quotes --------------------------------------------------------------------------------

def _style(units: list[Unit]) -> str:
    """"double" or "single": how this text quotes its dialogue."""
    double = single = 0
    for u in units:
        head = u.text.lstrip()[:1]
        double += head in "\"“"
        single += head in "'‘"
        double += u.text.count("“")
        single += u.text.count("‘")
    return "single" if single > double else "double"


_QUOTE_CHARS = {"double": re.compile("[\"“”„«»]"), "single": re.compile("['‘’]")}


@functools.lru_cache(maxsize=4096)
def _quotes(text: str, style: str) -> tuple[tuple[int, int, bool], ...]:
    """(start, end, closed) of each quotation, quote marks included. Only the quote marks
    are visited (found by one regex), never every character. (Memoised: each stage of the
    pass asks again about the same paragraph.)"""
    out: list[tuple[int, int, bool]] = []
    openers, closers = ("\"“„«", "\"”»") if style == "double" else ("'‘", "'’")
    marks = [m.start() for m in _QUOTE_CHARS[style].finditer(text)]
    n = len(text)
    k = 0
    while k < len(marks):
        i = marks[k]
        ch = text[i]
        prev = text[i - 1] if i else " "
        if not (ch in openers and (prev.isspace() or prev in "([{—–-/\"“”*_" or i == 0) and i + 1 < n and not text[i + 1].isspace()):
            k += 1
            continue
        close, stop = -1, n
        k += 1
        while k < len(marks):
            j = marks[k]
            c = text[j]
            if style == "double" and c in openers and c not in closers:
                stop = j                                    # a new “ before any ”: the last was left open
                break
            if c in closers:
                before, after = text[j - 1], text[j + 1] if j + 1 < n else " "
                if style == "single" and before.isalnum() and after.isalnum():
                    k += 1                                  # don't
                    continue
                if style == "single" and before.isalpha() and after == " " and _possessive(text, j):
                    k += 1                                  # the Lightwoods' car
                    continue
                if not before.isspace():
                    close = j
                    k += 1
                    break
            k += 1
        if close >= 0:
            out.append((i, close + 1, True))
        else:
            out.append((i, stop, False))
    return tuple(out)


def _nameish(word: str) -> bool:
    return word[:1].isupper() and word.rstrip(".").replace("'", "").replace("’", "").replace("-", "").isalpha() and word not in _NOT_NAMES


def _said_before(text: str) -> str | None:
    """The speaker named just before a quote ("Alec said, ", "said Alec: ", "Mr. Okafor
    quietly said, ", "Alec said to him, "), or None. Words are compared, not patterns
    searched: this runs once a quotation."""
    words = text[-60:].rstrip(" ,:—–-\t\n").split()
    if len(words) >= 3 and words[-2] in ("to", "at", "with"):
        words = words[:-2]
    elif len(words) >= 4 and words[-3] in ("to", "at", "with"):
        words = words[:-3]
    if len(words) < 2:
        return None
    if words[-1] in _VERB_SET:
        subject = words[:-1]
        if subject[-1].endswith("ly") and len(subject) >= 2:
            subject = subject[:-1]                          # "Alec quietly said"
        last = subject[-1]
        if last in _PRONOUNS:
            return last
        if _nameish(last):
            if len(subject) >= 2 and (_nameish(subject[-2]) or _TITLED.match(subject[-2] + " ")):
                return f"{subject[-2]} {last}"              # "Carson Beckett said", "Mr. Okafor said"
            return last
    if words[-2] in _VERB_SET and (_nameish(words[-1]) or words[-1] in _PRONOUNS):
        return words[-1].rstrip(".,;:!?")                   # "said Alec"
    return None


def _his_hers(sentence: str) -> tuple[int, int]:
    found = [p.lower() in _HIS for p in _PRONOUN.findall(sentence)]
    return sum(found), len(found) - sum(found)


def _possessive(text: str, j: int) -> bool:
    """A ' after a word and before a lower-case word that is not an attribution: a plural possessive."""
    rest = text[j + 1:j + 40]
    m = _NEXT_WORD.match(rest)
    return m is not None and m.group(1) not in _VERB_SET and m.group(1) not in ("he", "she", "they")


def _inner(text: str, start: int, end: int, closed: bool) -> str:
    return text[start + 1:end - 1 if closed else end]


def _is_speech(text: str, start: int, end: int, closed: bool) -> bool:
    inner = _inner(text, start, end, closed).strip()
    if len(list(itertools.islice(_LETTER.finditer(inner), 2))) < 2:
        return False                                        # rock 'n' roll, 'em
    before = text[:start].rstrip()
    after = text[end:]
    if not before or before[-1] in ".!?:…—–-\"”’)" or before.endswith(","):
        return True
    # In mid-sentence only an attributed quotation is speech (a sign that "said" something is not).
    return bool(_after(after) or _said_before(before))


# --- characters -----------------------------------------------------------------------------

def _name_of(raw: str | None) -> str | None:
    if not raw:
        return None
    raw = _POSSESSIVE.sub("", " ".join(raw.split()))   # "Griphook's frown": Griphook
    if raw.lower() in ("he", "she", "they", "it", "i") or raw.lower().startswith("the "):
        return raw.lower() if raw != "I" else "I"
    if _TITLED.match(raw):
        return raw                                          # "Mr. Okafor" stays whole
    return None if raw.split()[0] in _NOT_NAMES else raw


class Characters:
    """Who speaks in this text: names attributed anywhere, the work's character tags, and
    whether each is he or she (from the pronouns in the sentences that name them)."""

    def __init__(self, units: list[Unit], style: str, tags: tuple[str, ...] = ()):
        self._known: dict[str, str | None] = {}    # names_in's memo
        self.count: Counter[str] = Counter()        # attributed lines (and tags)
        self.subject: Counter[str] = Counter()      # sentences of narration opening with the name
        self.gender: dict[str, str] = {}
        he, she = Counter(), Counter()
        for tag in tags:                                    # "Agatha Harkness (Marvel)": Agatha
            first = re.sub(r"\s*\(.*\)", "", tag).split()
            if first and first[0][:1].isupper() and first[0] not in _NOT_NAMES:
                self.count[first[0]] += 2
        for u in units:
            if u.role not in DIALOGUE_ROLES:
                continue
            t = u.text
            for start, end, closed in _quotes(t, style):
                after = _after(t[end:])
                for raw in (after and (after.group("name") or after.group("name2")), _said_before(t[:start])):
                    name = _name_of(raw)
                    if name and name[0].isupper() and name != "I":
                        self.count[self.canonical(name)] += 1
            sentences = _SENTENCE.findall(_outside(t, style))
            pronouns = None
            for k, sentence in enumerate(sentences):
                m = _OPENING_NAME.match(sentence)
                proper = _name_of(m.group(1)) if m else None
                if proper and proper[0].isupper() and proper != "I":   # its sentence's pronouns, and the next's, are its
                    name = self.canonical(proper)
                    self.subject[name] += 1
                    if pronouns is None:             # (his, hers) in each sentence, counted once
                        pronouns = [_his_hers(x) for x in sentences] + [(0, 0)]
                    he[name] += pronouns[k][0] + pronouns[k + 1][0]
                    she[name] += pronouns[k][1] + pronouns[k + 1][1]
        for name in set(self.count) | set(self.subject):
            if he[name] > she[name] * 2 and he[name] >= 1:
                self.gender[name] = "he"
            elif she[name] > he[name] * 2 and she[name] >= 1:
                self.gender[name] = "she"

    def canonical(self, name: str) -> str:
        words = name.split()
        if len(words) > 1 and not re.match(_TITLES, words[0]):
            for word in (words[0], words[-1]):             # "Alec Lightwood" -> "Alec",
                if self.count.get(word) or self.subject.get(word, 0) >= 2:   # "Carson Beckett" -> "Beckett"
                    return word
        return name

    def known(self, name: str | None) -> str | None:
        """The character a name is: one attributed a line somewhere, or one the narration
        opens two sentences with ("Harriet folded her arms.")."""
        if not name or name.split()[0] in _NOT_NAMES:
            return None
        name = self.canonical(name)
        return name if self.count.get(name, 0) >= 1 or self.subject.get(name, 0) >= 2 else None

    def names_in(self, text: str) -> list[str]:
        out = []
        for m in _NAMES.finditer(text):
            word = m.group(0)
            if word not in self._known:
                self._known[word] = self.known(word)
            if self._known[word]:
                out.append(self._known[word])
        return out


@functools.lru_cache(maxsize=4096)
def _outside(text: str, style: str) -> str:
    """The paragraph with its quotations blanked out (narration only)."""
    pieces, pos = [], 0
    for start, end, _ in _quotes(text, style):
        pieces += [text[pos:start], " " * (end - start)]
        pos = end
    pieces.append(text[pos:])
    return "".join(pieces)


# --- the pass ---------------------------------------------------------------------------------

class _Scene:
    """What attribution remembers between paragraphs (reset at scene breaks and headings)."""

    def __init__(self) -> None:
        self.speakers: list[str] = []      # recent distinct speakers, last first
        self.last: str | None = None       # the previous speech paragraph's speaker
        self.consecutive = False           # the previous paragraph was speech
        self.run: list[str | None] = []    # speakers of the speech paragraphs in a row
        self.carry: str | None = None      # a speech left open runs on into the next paragraph
        self.mentioned: list[str] = []     # characters named in narration, last first
        self.talker: str | None = None     # who the last paragraph of narration said was talking

    def spoke(self, name: str | None) -> None:
        self.last = name
        if name and name != "I":
            if name in self.speakers:
                self.speakers.remove(name)
            self.speakers.insert(0, name)
            del self.speakers[4:]

    def mention(self, names: list[str]) -> None:
        for name in names:
            if name in self.mentioned:
                self.mentioned.remove(name)
            self.mentioned.insert(0, name)
        del self.mentioned[6:]


def mark_dialogue(units: list[Unit], tags: tuple[str, ...] = ()) -> tuple[dict[int, list[Piece]], dict[str, str]]:
    """Spans for every story unit with dialogue, thoughts or messages ({unit index: pieces}),
    and the characters who speak, in order of first appearance (name -> "he", "she" or "")."""
    style = _style([u for u in units if u.role in DIALOGUE_ROLES])
    cast = Characters(units, style, tags)
    scene = _Scene()
    found: dict[int, list[Piece]] = {}
    sender: str | None = None
    for i, u in enumerate(units):
        if u.kind in ("scene_break", "heading", "section"):
            scene = _Scene()
            continue
        if u.role not in DIALOGUE_ROLES:
            continue
        t = u.text
        chat = CHAT_LINE.match(t) if "\n" not in t else None
        if chat and cast.known(chat.group("name")) is not None or chat and len(chat.group("name").split()) == 1 and chat.group("name") not in _NOT_NAMES:
            name = cast.canonical(chat.group("name"))
            body = t.index(":", chat.start("name")) + 1
            found[i] = [Piece("narration", 0, body), Piece("message", body, len(t), name)]
            sender = None
            scene.consecutive = False
            continue
        if sender is not None:
            found[i] = [Piece("message", 0, len(t), sender)]
            sender = None
            continue
        header = CHAT_HEADER.match(t)
        if header:
            sender = cast.known(re.split(r"\s+\[?\d", t.strip("[] "), maxsplit=1)[0].strip()) or re.split(r"\s+\[?\d", t, maxsplit=1)[0].strip()
            scene.consecutive = False
            continue
        pieces = _pieces(t, style)
        if not any(p.kind != "narration" for p in pieces):
            scene.mention(cast.names_in(t))
            scene.consecutive = False
            scene.carry = None
            scene.run = []
            last = [x for x in _SENTENCE.findall(t) if x.strip()]
            m = _verbed(_TALKER.match(last[-1])) if last else None
            scene.talker = _resolve(m.group("name"), cast, scene) if m else None
            continue
        scene.talker = scene.talker if scene.consecutive is False else None
        _attribute(t, pieces, style, cast, scene)
        found[i] = pieces
    speakers: dict[str, str] = {}
    for pieces in found.values():
        for p in pieces:
            if p.speaker and p.speaker != "I" and p.speaker not in speakers:
                speakers[p.speaker] = cast.gender.get(p.speaker, "")
    return found, speakers


def _pieces(text: str, style: str) -> list[Piece]:
    """The paragraph cut at its quotations and thoughts (every character in one piece)."""
    marks: list[Piece] = []
    for start, end, closed in _quotes(text, style):
        if _is_speech(text, start, end, closed):
            marks.append(Piece("speech", start, end, open_end=not closed))
    outside = _outside(text, style)
    for m in _ITALIC.finditer(outside):
        words = len((m.group("a") or m.group("b") or "").split())
        if words >= 3 or _THOUGHT_AFTER.match(outside[m.end():]):
            marks.append(Piece("thought", m.start(), m.end()))
    marks.sort(key=lambda p: p.start)
    pieces: list[Piece] = []
    pos = 0
    for p in marks:
        if p.start < pos:
            continue
        if p.start > pos:
            pieces.append(Piece("narration", pos, p.start))
        pieces.append(p)
        pos = p.end
    if pos < len(text):
        pieces.append(Piece("narration", pos, len(text)))
    return pieces


def _resolve(raw: str | None, cast: Characters, scene: _Scene, again: bool = False) -> str | None:
    name = _name_of(raw)
    if name is None:
        return None
    if name == "I":
        return "I"
    if name in ("he", "she"):
        # Only when one character of that gender is in the scene: two men talking, "he
        # said" could be either (the alternation of the exchange may still tell).
        present = [c for c in dict.fromkeys(scene.speakers + scene.mentioned) if cast.gender.get(c) == name]
        if len(present) == 1:
            return present[0]
        if again and scene.last in present:
            return scene.last                              # "he tried again": the same man
        return None
    if name in ("they", "it"):
        return None
    if name.startswith("the "):
        return name                                      # "the archivist": a character with no name
    return cast.known(name)


def _attribute(text: str, pieces: list[Piece], style: str, cast: Characters, scene: _Scene) -> None:
    speeches = [p for p in pieces if p.kind == "speech"]
    outside = _outside(text, style)
    named_here = cast.names_in(outside)
    if any(_verbed(_JOINT.match(text[p.end:])) for p in speeches):
        scene.mention(named_here)              # "Priya and Jonah said together": nobody alone
        scene.consecutive, scene.carry, scene.run = True, None, scene.run + [None]
        return
    # 1. speech verbs next to each quote
    nobody = False         # "it said", "they said": someone, but no character to give it to
    for p in speeches:
        after = _after(text[p.end:])
        if after is None and (_inner(text, p.start, p.end, not p.open_end).rstrip().endswith(",") or re.match(r"[\s,—–-]+(?:he|she)\b", text[p.end:])):
            after = _AFTER_ANY.match(text[p.end:])   # '"C'mon," he tried': the sentence goes on
        raw = (after.group("name") or after.group("name2")) if after else _said_before(text[:p.start])
        if raw:
            again = after is not None and re.match(r"\s*(?:\w+\s+){0,3}again\b", text[p.end + after.end():]) is not None
            p.speaker = _resolve(raw, cast, scene, again)
            nobody = nobody or (raw or "").lower() in ("it", "they")
    # the first quote may continue a speech left open in the last paragraph
    if speeches and scene.carry and speeches[0].start == len(text) - len(text.lstrip()) and speeches[0].speaker is None:
        speeches[0].speaker = scene.carry
    # 2. an interrupted line: the paragraph's other quotes share its speaker
    known = [p.speaker for p in speeches if p.speaker]
    if known and len(set(known)) == 1:
        for p in speeches:
            p.speaker = p.speaker or known[0]
    # 3. an action beat: the first narration sentence opens with a character or pronoun
    #    (not two of them: "Priya and Jonah said together"); or, for a paragraph that is all
    #    speech, the one the last paragraph said was talking ("The archivist talked on.")
    if nobody:
        speeches = []      # (no guessing below: the text has said who, and it is nobody we know)
    if speeches and not known:
        beat = next((s for s in _SENTENCE.findall(outside) if s.strip()), "")
        m = _BEAT.match(beat)
        who = _resolve(m.group(1), cast, scene) if m else None
        if who is None and not beat.strip():
            who = scene.talker
        if who:
            for p in speeches:
                p.speaker = who
    # 4. a two-person exchange: lines alternate
    if speeches and all(p.speaker is None for p in speeches) and scene.consecutive:
        addressed = {n for p in speeches for n in cast.names_in(_inner(text, p.start, p.end, not p.open_end))}
        run = scene.run
        present = list(dict.fromkeys(scene.speakers + scene.mentioned))   # who is in the scene
        other = None
        if len(run) >= 2 and run[-2] is not None and run[-1] != run[-2]:
            other = run[-2]                                  # A, B, A
        elif scene.last is not None and len(present) == 2:
            other = next(s for s in present if s != scene.last)   # the only other one there
        if other and other not in addressed:
            for p in speeches:
                p.speaker = other
    # thoughts belong to the paragraph's speaker or the character the beat names
    who = next((p.speaker for p in speeches if p.speaker), None)
    for p in pieces:
        if p.kind == "thought":
            after = _after(text[p.end:])
            p.speaker = _resolve(after and (after.group("name") or after.group("name2")), cast, scene) or who
    scene.mention(named_here)
    if speeches:
        scene.run = (scene.run if scene.consecutive else []) + [speeches[-1].speaker]
        scene.spoke(speeches[-1].speaker)
        scene.consecutive = True
        scene.carry = speeches[-1].speaker if speeches[-1].open_end else None
    else:
        scene.consecutive = False
        scene.carry = None
