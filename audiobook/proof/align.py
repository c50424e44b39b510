"""Align the words the episode meant to say with the words heard (jiwer, confined here).

jiwer (Apache-2.0, on rapidfuzz's Levenshtein, MIT) gives the minimum-edit alignment of two
word lists. On top of it, one loosening: a run of differences whose letters are the same
on both sides ("every day" / "everyday", "ex boyfriend" / "exboyfriend", "its" / "it's") is
a match, since the listener heard what was meant and only the spelling differs.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AlignerMissing", "Op", "align", "check"]


class AlignerMissing(Exception):
    """jiwer is not installed (the [proof] extra)."""


def check() -> None:
    """Raise AlignerMissing unless jiwer can be imported: called before the long listening."""
    try:
        import jiwer  # noqa: F401
    except ImportError:
        raise AlignerMissing("pip install 'audiofic[proof]'") from None


@dataclass(frozen=True)
class Op:
    """One step of the alignment: `kind` is "equal", "substitute" (as many words heard as
    meant), "delete" (meant, not heard) or "insert" (heard, not meant). An "equal" step
    may join a different number of words on each side (spellings joined, see above)."""

    kind: str
    ref_start: int
    ref_end: int
    hyp_start: int
    hyp_end: int


def align(reference: list[str], hypothesis: list[str]) -> list[Op]:
    """The alignment of `hypothesis` against `reference` (lists of words without spaces)."""
    if not reference and not hypothesis:
        return []
    if not reference:
        return [Op("insert", 0, 0, 0, len(hypothesis))]
    if not hypothesis:
        return [Op("delete", 0, len(reference), 0, 0)]
    check()
    import jiwer

    # One "sentence" each, already split: jiwer's default transform only splits at spaces.
    out = jiwer.process_words(" ".join(reference), " ".join(hypothesis))
    ops = [Op(c.type, c.ref_start_idx, c.ref_end_idx, c.hyp_start_idx, c.hyp_end_idx) for c in out.alignments[0]]
    return _join_spellings(ops, reference, hypothesis)


def _letters(words: list[str]) -> str:
    return "".join(words).replace("'", "")


def _join_spellings(ops: list[Op], reference: list[str], hypothesis: list[str]) -> list[Op]:
    """Runs of differences between two matches that spell the same letters become matches."""
    out: list[Op] = []
    i = 0
    while i < len(ops):
        if ops[i].kind == "equal":
            out.append(ops[i])
            i += 1
            continue
        j = i
        while j < len(ops) and ops[j].kind != "equal":
            j += 1
        run = ops[i:j]
        ref = reference[run[0].ref_start:run[-1].ref_end]
        hyp = hypothesis[run[0].hyp_start:run[-1].hyp_end]
        if ref and hyp and _letters(ref) == _letters(hyp):
            out.append(Op("equal", run[0].ref_start, run[-1].ref_end, run[0].hyp_start, run[-1].hyp_end))
        else:
            out.extend(run)
        i = j
    return out
