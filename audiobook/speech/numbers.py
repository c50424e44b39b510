"""Numbers: dates, times, money, fractions and ordinals, read as a narrator reads them.

eSpeak NG reads digits well on its own ("1st", "22nd", "103rd", "06:47", "10:30", "3pm",
"3 p.m.", "3:30am" all come out right), so these rules only touch what it gets wrong:

English (``en``, ``en-US``, ``en-GB``, ...):
- dates: ``9/30/21``, ``09/30/2021``, ``9-30-21``, ``2012-02-15``, ``Feb 15, 2012``,
  ``Feb. 15th`` -> "September thirtieth, twenty twenty-one"; day first when the first number
  is over 12 (``30/9/21``) or when written so (``15 February 2012``) -> "the fifteenth of
  February, twenty twelve" (eSpeak said "nine slash thirty slash twenty-one", "Feb",
  "fifteen February two thousand and twelve"). Two-digit years: 00-39 are 20xx, 40-99 19xx.
  A slashed date needs its year: ``12/05`` alone may be a date, a score or a count.
- times: ``3:05`` -> "three oh five", ``10:00`` -> "ten o'clock", ``18:00`` -> "eighteen
  hundred", ``00:00`` -> "midnight", ``00:30`` -> "twelve thirty", ``3:00pm`` -> "3pm"
  (eSpeak said "three zero five", "ten zero zero"); other times are left to eSpeak.
  ``3:2`` (one digit after the colon: a score or a ratio) -> "3 to 2", but "John 3:2" ->
  "John 3 2" (a verse, read as eSpeak reads "John 3:16"); eSpeak said "colon".
- money: ``$5`` -> "five dollars", ``$1`` -> "one dollar", ``$5.50`` -> "five dollars
  fifty", ``$5.05`` -> "five dollars and five cents", ``$0.50`` -> "fifty cents",
  ``£20`` -> "twenty pounds", ``€3.50`` -> "three euros fifty", ``$1.5 million`` -> "one
  point five million dollars", ``$5k`` -> "five thousand dollars", ``5$`` -> "five dollars"
  (eSpeak said "dollar five", "pound twenty", "five dollar").
- fractions: ``1/2`` -> "one half", ``2/3`` and ``2/3rds`` -> "two thirds", ``3/4`` -> "three
  quarters", ``2 1/2`` -> "two and a half" (a proper fraction with a denominator up to 10;
  others are not fractions in prose); ``Chapter 3/10`` -> "Chapter 3 of 10".
- ordinals of round hundreds and thousands: ``100th`` -> "one hundredth", ``1000th`` ->
  "one thousandth" (eSpeak said "one thousand th"; it reads every other ordinal right).

Other languages: only money (``$5`` -> "cinq dollars" in French), where num2words knows the
language and the currency; everything else is left for the engine, which reads digits in
its own language. No English word ever reaches a work in another language.

num2words (LGPL-2.1-or-later) writes the words; this is the only module that imports it,
and only once a text has a number to say (its import costs ~60 ms).
"""

from __future__ import annotations

import calendar
import functools
import re
from decimal import Decimal

from .language import Words

# --- num2words, confined here ------------------------------------------------------------


@functools.cache
def _num2words():
    from num2words import CONVERTER_CLASSES, num2words

    return num2words, CONVERTER_CLASSES


@functools.lru_cache(maxsize=4096)
def cardinal(n: int) -> str:
    """English words for a whole number, without the commas num2words puts between groups
    (a comma is a pause): 1234 -> "one thousand two hundred and thirty-four"."""
    return _num2words()[0](n).replace(",", "")


@functools.lru_cache(maxsize=1024)
def ordinal(n: int) -> str:
    return _num2words()[0](n, to="ordinal").replace(",", "")


@functools.lru_cache(maxsize=512)
def year(n: int) -> str:
    """2021 -> "twenty twenty-one", 2005 -> "two thousand and five", 1905 -> "nineteen oh-five"."""
    return _num2words()[0](n, to="year").replace(",", "")


@functools.lru_cache(maxsize=64)
def _lang_codes(language: str) -> tuple[str, ...]:
    """num2words' codes for a language tag, most specific first: "pt-BR" -> ("pt_BR", "pt")."""
    classes = _num2words()[1]
    parts = re.split(r"[-_]", language.strip())
    base = parts[0].lower()
    codes = [f"{base}_{parts[1].upper()}"] if len(parts) > 1 else []
    return tuple(code for code in [*codes, base] if code in classes)


# --- dates ---------------------------------------------------------------------------------

MONTHS = (None, "January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
_MONTH_NUMBER = {name.lower(): i for i, name in enumerate(MONTHS) if name}
_MONTH_NUMBER |= {name[:3].lower(): i for i, name in enumerate(MONTHS) if name} | {"sept": 9}
# A month's name, or its abbreviation with or without a period ("May." is not an abbreviation).
_MONTH = (r"(?P<month>(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)(?![a-z])\.?"
          r"|January|February|March|April|May|June|July|August|September|October|November|December)")
_YEAR4 = r"(?P<year>[12]\d{3})(?!\w|[:/.,-]\d)"
# A number starts with a digit not preceded by a word, a path or a version ("1.9/30/21",
# "v9/30/21", "x2/3"). Every pattern starts with its first digit (or sign) and checks what
# precedes it afterwards: a pattern that starts with a look-behind is tried at every
# character of the text, one that starts with a digit is found by a fast scan (3-6x faster).
_D = r"\d(?<![\w/.,:$£€¥-]\d)"
_NUM_END = r"(?![\w/]|[.,:-]\d)"

_DATE_NUMERIC = re.compile(
    rf"(?P<a>{_D}\d?)(?P<sep>[/-])(?P<b>\d{{1,2}})(?P=sep)(?P<year>\d{{4}}|\d{{2}}){_NUM_END}"
)
_DATE_ISO = re.compile(rf"(?P<year>[12](?<![\w/.,:$£€¥-][12])\d{{3}})-(?P<month>\d{{2}})-(?P<day>\d{{2}}){_NUM_END}")
# Month names are rare: these two run only on a text where _MONTH_HINT finds one.
_MONTH_HINT = re.compile(r"Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec")
_DATE_MONTH_DAY = re.compile(rf"\b{_MONTH}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?(?![\w:/]|[.,]\d)(?:,?\s+{_YEAR4})?")
_DATE_DAY_MONTH = re.compile(
    rf"(?P<day>\d(?<![\w.,]\d)\d?)(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?!\w)(?:,?\s+{_YEAR4})?"
)
_THE_BEFORE = re.compile(r"\b[Tt]he\s+$")
_TIME_AFTER = re.compile(r"\s+\d{1,2}:\d\d(?!\d)")


def _two_digit_year(yy: int) -> int:
    # Fic is written and set from the 1940s on; '00-'39 are this century ('21 -> 2021).
    return 2000 + yy if yy < 40 else 1900 + yy


def _valid(month: int, day: int, y: int = 2000) -> bool:
    return 1 <= month <= 12 and 1 <= day <= calendar.monthrange(y, month)[1]


def _say_date(month: int, day: int, y: int | None, day_first: bool, match: re.Match[str], the: str = "the ") -> str:
    """ "September thirtieth, twenty twenty-one" or "the thirtieth of September, ..." """
    words = f"{the}{ordinal(day)} of {MONTHS[month]}" if day_first else f"{MONTHS[month]} {ordinal(day)}"
    if y is not None:
        words += f", {year(y)}"
        # "Feb 15, 2012 06:47": a pause between the date and the time, as a reader makes.
        if _TIME_AFTER.match(match.string, match.end()):
            words += ","
    return words


def _numeric_date(match: re.Match[str]) -> str:
    a, b, y = int(match["a"]), int(match["b"]), match["year"]
    full = _two_digit_year(int(y)) if len(y) == 2 else int(y)
    # Month first unless it cannot be (30/9/21): most fic is American, so an ambiguous
    # 3/4/21 is March 4th, not the 3rd of April.
    if _valid(a, b, full):
        return _say_date(a, b, full, False, match)
    if _valid(b, a, full):
        return _say_date(b, a, full, True, match)
    return match.group(0)


def _iso_date(match: re.Match[str]) -> str:
    y, month, day = int(match["year"]), int(match["month"]), int(match["day"])
    if not _valid(month, day, y):
        return match.group(0)
    return _say_date(month, day, y, False, match)


def _month_date(match: re.Match[str]) -> str:
    month = _MONTH_NUMBER[match["month"].rstrip(".").lower()]
    day = int(match["day"])
    y = int(match["year"]) if match["year"] else None
    if not _valid(month, day, y or 2000):
        return match.group(0)
    if match.re is _DATE_DAY_MONTH:     # day first, after a "the" if not written already
        the = "" if _THE_BEFORE.search(match.string, max(0, match.start() - 8), match.start()) else "the "
        return _say_date(month, day, y, True, match, the)
    return _say_date(month, day, y, False, match)


# --- times ---------------------------------------------------------------------------------

_TIME = re.compile(
    r"(?P<h>\d(?<![\w:.,/$£€¥]\d)\d?):(?P<m>\d\d)"
    r"(?:(?P<ampm>\s?[aApP]\.?[mM]\.?)(?!\w))?"
    r"(?![\w:]|[.,]\d)"
)
# One digit after the colon is no clock: a score or a ratio ("won 3:2", "16:9") -> "3 to 2";
# after a capitalised word, a verse ("John 3:2", "Gen. 1:1") -> "3 2", as "John 3:16" is read.
_SCORE = re.compile(r"(?P<a>\d(?<![\w:.,/]\d)\d{0,2}):(?P<b>\d)(?![\w:]|[.,]\d)")
_CAPITALISED_BEFORE = re.compile(r"\b[A-Z][\w.]*\s+$")


def _score(match: re.Match[str]) -> str:
    verse = _CAPITALISED_BEFORE.search(match.string, max(0, match.start() - 24), match.start())
    return f"{match['a']} {match['b']}" if verse else f"{match['a']} to {match['b']}"


def _time(match: re.Match[str]) -> str:
    h, m, ampm = int(match["h"]), int(match["m"]), match["ampm"]
    if h > 23 or m > 59 or (ampm and not 1 <= h <= 12):
        return match.group(0)
    if ampm:
        if m == 0:
            return f"{h}{ampm}"                     # eSpeak reads "3pm" and "3 p.m." right
        if m < 10:
            return f"{cardinal(h)} oh {cardinal(m)}{ampm}"
        return match.group(0)                       # "3:30am": eSpeak reads it right
    if m == 0:
        if h == 0:
            return "midnight"
        return f"{cardinal(h)} o'clock" if h <= 12 else f"{cardinal(h)} hundred"
    if m < 10:
        return f"{cardinal(h or 12)} oh {cardinal(m)}"
    if h == 0:
        return f"twelve {cardinal(m)}"
    return match.group(0)                           # "06:47", "10:30": eSpeak reads them right


# --- money ---------------------------------------------------------------------------------

_CURRENCY_SIGN = re.compile(r"[$£€¥]")
_CURRENCIES = {  # sign: ISO code, unit (one, many), hundredth (one, many)
    "$": ("USD", ("dollar", "dollars"), ("cent", "cents")),
    "£": ("GBP", ("pound", "pounds"), ("penny", "pence")),
    "€": ("EUR", ("euro", "euros"), ("cent", "cents")),
    "¥": ("JPY", ("yen", "yen"), ("sen", "sen")),
}
# An amount after its first digit: "5", "1,000", "5.50", "3,50" (a decimal comma, in French).
_AMOUNT_REST = r"(?:\d{0,2}(?:,\d{3})+|\d*))(?:(?P<point>[.,])(?P<dec>\d+))?"
_MAGNITUDE = r"(?:\s?(?P<mag>thousand|million|billion|trillion|k)\b)?"
_MONEY_BEFORE = re.compile(
    rf"(?P<sign>[$£€¥])(?<![\w$£€¥.,][$£€¥])\s?(?P<num>\d{_AMOUNT_REST}{_MAGNITUDE}(?!\w|[.,]\d)"
)
_MONEY_AFTER = re.compile(
    rf"(?P<num>\d(?<![\w$£€¥.,]\d){_AMOUNT_REST}{_MAGNITUDE}[ \u00a0]?(?P<sign>[$£€¥])(?![\w$£€¥])"
)
_MAGNITUDES = {"k": "thousand"}


def _plural(n: int, forms: tuple[str, str]) -> str:
    return forms[0] if n == 1 else forms[1]


def _money_en(match: re.Match[str]) -> str:
    _, unit, hundredth = _CURRENCIES[match["sign"]]
    num, point, dec, mag = match["num"].replace(",", ""), match["point"], match["dec"], match["mag"]
    if point == ",":                                # "$1,5": not how English writes money
        return match.group(0)
    units = int(num)
    if mag:
        amount = cardinal(units) if dec is None else _num2words()[0](Decimal(f"{units}.{dec}"))
        return f"{amount} {_MAGNITUDES.get(mag, mag)} {unit[1]}"
    if dec is None:
        return f"{cardinal(units)} {_plural(units, unit)}"
    if len(dec) > 2:
        return match.group(0)
    cents = int(dec.ljust(2, "0"))
    if cents == 0:
        return f"{cardinal(units)} {_plural(units, unit)}"
    if units == 0:
        return f"{cardinal(cents)} {_plural(cents, hundredth)}"
    if cents < 10:                                  # "five dollars five" would be unclear
        return f"{cardinal(units)} {_plural(units, unit)} and {cardinal(cents)} {_plural(cents, hundredth)}"
    return f"{cardinal(units)} {_plural(units, unit)} {cardinal(cents)}"


_CUT = "\x00"


def _money_other(match: re.Match[str], codes: tuple[str, ...]) -> str:
    """Money in another language, by num2words' own currency rules (gender, plural, "et",
    "und"); a whole amount without its "and zero cents". Unknown -> left for the engine."""
    num, dec = match["num"], match["dec"]
    if match["mag"] or "," in num or (dec is not None and len(dec) != 2):
        return match.group(0)
    cents = int(dec) if dec else 0
    currency = _CURRENCIES[match["sign"]][0]
    to_words = _num2words()[0]
    for code in codes:          # "pt_BR" has no currency separator option: then "pt"
        try:
            if cents:
                return to_words(Decimal(f"{num}.{dec}"), lang=code, to="currency", currency=currency)
            # A separator we can find, to cut off the cents.
            said = to_words(Decimal(num), lang=code, to="currency", currency=currency, separator=_CUT)
        except (NotImplementedError, TypeError, ValueError, KeyError, AttributeError):
            continue
        if _CUT in said:
            return said.split(_CUT, 1)[0].strip()
    return match.group(0)


# --- fractions and ordinals ----------------------------------------------------------------

# "N/M": a fraction, "Chapter 3/10", or neither (left as it is); "2 1/2": a mixed number.
_SLASHED = re.compile(rf"(?P<num>{_D}\d*)/(?P<den>\d+)(?P<suffix>(?:st|nd|rd|th)s?|s)?{_NUM_END}")
_MIXED = re.compile(rf"(?P<whole>{_D}\d{{0,2}})\s+(?P<num>\d)/(?P<den>\d{{1,2}})(?P<suffix>(?:st|nd|rd|th)s?|s)?{_NUM_END}")
_PART_BEFORE = re.compile(r"\b(?:chapter|chap|ch|part|pt|book|volume|vol|episode|ep)\.?\s*$", re.IGNORECASE)
_DENOMINATORS = {2: ("half", "halves"), 4: ("quarter", "quarters")}
_ORDINAL = re.compile(r"(?P<num>\d(?<![\w/.,:$£€¥-]\d)(?:\d{0,2}(?:,\d{3})+|\d*))(?:st|nd|rd|th)(?!\w)")


def _fraction(match: re.Match[str]) -> str:
    num, den = int(match["num"]), int(match["den"])
    whole = match.groupdict().get("whole")
    if not whole and _PART_BEFORE.search(match.string, max(0, match.start() - 12), match.start()):
        return f"{num} of {den}" if not match["suffix"] else match.group(0)
    if not 1 <= num < den <= 10:
        return match.group(0)
    name = _DENOMINATORS.get(den) or (ordinal(den), ordinal(den) + "s")
    if whole:
        part = f"a {name[0]}" if num == 1 else f"{cardinal(num)} {name[1]}"
        return f"{cardinal(int(whole))} and {part}"
    return f"{cardinal(num)} {_plural(num, name)}"


def _ordinal(match: re.Match[str]) -> str:
    n = int(match["num"].replace(",", ""))
    if n and n % 100 == 0:                          # eSpeak: "one thousand th"
        return ordinal(n)
    return match.group(0)


# --- all of it -----------------------------------------------------------------------------

_DIGIT = re.compile(r"\d")


def say_numbers(text: str, words: Words, language: str = "en") -> str:
    """Dates, times, money, fractions and ordinals in `text` as words (see the module notes)."""
    if not _DIGIT.search(text):
        return text
    s = text
    if not words.english:
        if _CURRENCY_SIGN.search(s):
            codes = _lang_codes(language)
            if codes:
                s = _MONEY_BEFORE.sub(lambda m: _money_other(m, codes), s)
                s = _MONEY_AFTER.sub(lambda m: _money_other(m, codes), s)
        return s
    if "/" in s or "-" in s:
        s = _DATE_NUMERIC.sub(_numeric_date, s)
    if "-" in s:
        s = _DATE_ISO.sub(_iso_date, s)
    if _MONTH_HINT.search(s):
        s = _DATE_MONTH_DAY.sub(_month_date, s)
        s = _DATE_DAY_MONTH.sub(_month_date, s)
    if ":" in s:
        s = _TIME.sub(_time, s)
        s = _SCORE.sub(_score, s)
    if _CURRENCY_SIGN.search(s):
        s = _MONEY_BEFORE.sub(_money_en, s)
        s = _MONEY_AFTER.sub(_money_en, s)
    if "/" in s:
        s = _MIXED.sub(_fraction, s)
        s = _SLASHED.sub(_fraction, s)
    s = _ORDINAL.sub(_ordinal, s)
    return s
