"""Free text -> search filters and concepts.

    "close-up of Anna smiling"  -> size CU, character Anna, expression happy
    "piano"                     -> concept piano: tags grand piano (0.81), upright piano (0.79)
    "dog on a beach"            -> concepts dog (COCO dog, dog breeds, ...) and beach (seashore, ...)

Words are matched longest phrase first (up to 4 words): shot-size phrases ("extreme close-up",
"wide shot"; the codes ECU/CU/MS/FS/LS in capitals), names of identities in the gallery (exact,
case-insensitive), expression words ("smiling", "scared", ...). Small words (of, the, with, ...)
are dropped; each remaining run of words is a *concept*, mapped to the labels whose text
embedding is close (``Vocabulary.nearest``); a run that maps to nothing is tried word by word,
and words that still map to nothing are reported as ``ignored``.

Quoted parts ('see you tomorrow', "EXIT") are *phrases*: looked up word for word, in order, in
what is said and written (``archive.search_text``), never mapped to labels. Words such as "saying" or
"written" only introduce them. The other words (``words``) are also looked up one by one in
what is said and written. Mood words ("calm", "tense", "gloomy"; "happy mood") become the mood
filter, never content labels ("happy" and "sad" alone stay facial expressions).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import func, select

from reelscope.archive import schema as db
from reelscope.search.vocab import EXPRESSION_WORDS, SIZE_PHRASES, SIZES, Match, Vocabulary

MAX_WORDS = 4
STOPWORDS = frozenset("""a an the of with and or in on at to from by for is are was were be being been shot shots
frame frames scene scenes showing show shows shown where who whom that which some any find me video videos clip clips
image images picture pictures photo photos there it its their his her him she he they them while as into onto near
next over under this these those one two very just""".split())
# words that introduce what is said or written: "Anna saying 'tomorrow'", "sign reading 'EXIT'"
MODALITY_WORDS = frozenset("""say says said saying tell tells telling told speak speaks speaking talk talks talking
mention mentions mentioning word words phrase read reads reading written writing caption captions subtitle subtitles
onscreen dialogue dialog""".split())
_QUOTED = re.compile(r'"([^"]+)"|\u201c([^\u201d]+)\u201d|\u2018([^\u2019]+)\u2019|(?<![\w\'])\'([^\']+)\'(?![\w])')


def _moods() -> dict[str, str]:
    from reelscope.mood.circle import MOODS

    out = {f"{m} mood": m for m in MOODS}
    out.update({m: m for m in MOODS if m not in EXPRESSION_WORDS})
    return out


@dataclass
class Concept:
    text: str
    matches: list[Match]


@dataclass
class Parsed:
    sizes: list[str] = field(default_factory=list)
    characters: list[str] = field(default_factory=list)  # identity names, as stored
    expressions: list[str] = field(default_factory=list)
    concepts: list[Concept] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)  # quoted: said or written, word for word
    words: list[str] = field(default_factory=list)  # the concept words, also looked up in what is said/written
    moods: list[str] = field(default_factory=list)

    @property
    def has_filters(self) -> bool:
        return bool(self.sizes or self.characters or self.expressions or self.phrases or self.moods)

    def as_dict(self) -> dict:
        return {"sizes": self.sizes, "characters": self.characters, "expressions": self.expressions,
                "concepts": [{"text": c.text, "labels": [{"kind": m.kind, "label": m.label,
                                                          "similarity": m.similarity} for m in c.matches]}
                             for c in self.concepts],
                "ignored": self.ignored, "phrases": self.phrases, "words": self.words, "moods": self.moods}


def words(text: str) -> list[tuple[str, str]]:
    """(original, lower) words; hyphens and other marks separate words ("close-up" -> close, up)."""
    return [(w, w.lower()) for w in re.findall(r"[^\W_]+(?:'[^\W_]+)?", text)]


def _identity_names(session, grams: set[str]) -> dict[str, str]:
    """Lower-case n-gram -> identity name, for the n-grams that are exactly someone's name."""
    if not grams:
        return {}
    rows = session.execute(select(db.Identity.name).where(func.lower(db.Identity.name).in_(sorted(grams))))
    return {name.lower(): name for (name,) in rows}


def quoted(text: str) -> tuple[list[str], str]:
    """The quoted phrases of ``text`` and the text without them (a comma in their place)."""
    found = []

    def take(m):
        phrase = next(g for g in m.groups() if g is not None).strip()
        if phrase:
            found.append(phrase)
        return " , "
    return found, _QUOTED.sub(take, text)


def parse(text: str, vocab: Vocabulary, session=None, min_similarity: float = 0.6) -> Parsed:
    out = Parsed()
    out.phrases, text = quoted(text)
    moods = _moods()
    ws = words(text)
    grams = {" ".join(w for _, w in ws[i:j]) for i in range(len(ws)) for j in range(i + 1, min(len(ws), i + MAX_WORDS) + 1)}
    names = _identity_names(session, grams) if session is not None else {}
    rest: list[list[str]] = [[]]  # runs of words left for concepts
    i = 0
    while i < len(ws):
        took = 0
        for n in range(min(MAX_WORDS, len(ws) - i), 0, -1):
            gram = " ".join(w for _, w in ws[i:i + n])
            if gram in SIZE_PHRASES:
                _add(out.sizes, SIZE_PHRASES[gram])
            elif n == 1 and ws[i][0] in SIZES:  # a code in capitals: CU, LS, ...
                _add(out.sizes, ws[i][0])
            elif gram in names:
                _add(out.characters, names[gram])
            elif gram in moods and (n > 1 or gram not in EXPRESSION_WORDS):
                _add(out.moods, moods[gram])
            elif n == 1 and gram in EXPRESSION_WORDS:
                _add(out.expressions, EXPRESSION_WORDS[gram])
            else:
                continue
            took = n
            break
        if took:
            rest.append([])
            i += took
            continue
        w = ws[i][1]
        if w in STOPWORDS or w in MODALITY_WORDS:
            rest.append([])
        else:
            rest[-1].append(w)
        i += 1
    for run in (r for r in rest if r):
        out.words += [w for w in run if w not in out.words]
        _concepts(" ".join(run), vocab, out, min_similarity, split=len(run) > 1)
    return out


def _add(items: list, value) -> None:
    if value not in items:
        items.append(value)


def _concepts(phrase: str, vocab: Vocabulary, out: Parsed, min_similarity: float, split: bool) -> None:
    matches = vocab.nearest(phrase, min_similarity)
    if matches:
        out.concepts.append(Concept(phrase, matches))
    elif split:  # "man playing guitar" as a whole found nothing: each word on its own
        for w in phrase.split():
            _concepts(w, vocab, out, min_similarity, split=False)
    else:
        out.ignored.append(phrase)
