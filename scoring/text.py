"""Text facts of a post: tags, own text, normalised text and shingles (DESIGN §5 "Terms").

Choices that §5 leaves open are written down in docs/decisions-scoring.md.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

__all__ = [
    "TextFacts",
    "analyse_text",
    "comparable_shingles",
    "jaccard_at_least",
    "may_reach_jaccard",
    "near_copy_prefix",
    "normalise_tag",
    "prefix_length",
    "shingles",
]

# A link is a scheme followed by "://" and non-space characters; the trailing punctuation that
# usually closes a sentence or a bracket is not part of it (as linkifiers do).
_LINK = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s<>\"]*[^\s<>\".,;:!?'’)\]}]")
# @user, @user@server, @handle.bsky.social; not the middle of an e-mail address.
_MENTION = re.compile(r"(?<![\w@])[@＠]\w(?:[\w.-]*\w)?(?:@\w(?:[\w.-]*\w)?)?")
# #tag needs at least one letter or underscore (so "#1" is not a tag), as Mastodon does.
_HASHTAG = re.compile(r"(?<![\w&#＃/])[#＃](\w*[^\W\d]\w*)")


class _PunctuationToSpace(dict[int, int]):
    """A str.translate table sending every P* and S* code point to a space, filled on demand."""

    def __missing__(self, code_point: int) -> int:
        category = unicodedata.category(chr(code_point))
        value = 0x20 if category[0] in "PS" else code_point
        self[code_point] = value
        return value


_PUNCTUATION_TO_SPACE = _PunctuationToSpace()


@lru_cache(maxsize=4096)
def normalise_tag(tag: str) -> str:
    """Return a tag in comparable form: without a leading '#', NFKC, case-folded."""
    tag = unicodedata.normalize("NFKC", tag).lstrip("#")
    return unicodedata.normalize("NFKC", tag.casefold())


@dataclass(frozen=True, slots=True)
class TextFacts:
    """What the rules read from a post's plain text."""

    hashtags: frozenset[str]
    own_text: str
    own_length: int
    normalised: str


@lru_cache(maxsize=65536)  # a full re-score meets a post once per event whose window holds it
def analyse_text(text: str) -> TextFacts:
    """Return the hashtags (normalised), own text, its length and normalised text of a text."""
    text = unicodedata.normalize("NFC", text)
    # Each pattern needs its marker character(s): a text without them is left as it is (cheaper).
    without_links = _LINK.sub(" ", text) if "://" in text else text
    has_tags = "#" in without_links or "＃" in without_links
    hashtags = (
        frozenset(normalise_tag(match.group(1)) for match in _HASHTAG.finditer(without_links))
        if has_tags
        else frozenset()
    )
    has_mentions = "@" in without_links or "＠" in without_links
    without_mentions = _MENTION.sub(" ", without_links) if has_mentions else without_links
    without_tags = _HASHTAG.sub(" ", without_mentions) if has_tags else without_mentions
    own_text = " ".join(without_tags.split())
    punctuation_as_spaces = own_text.lower().translate(_PUNCTUATION_TO_SPACE)
    normalised = " ".join(punctuation_as_spaces.split())
    return TextFacts(hashtags=hashtags, own_text=own_text, own_length=len(own_text), normalised=normalised)


def shingles(normalised: str, size: int) -> frozenset[str]:
    """Return the set of `size`-character shingles; a shorter non-empty text is its own shingle."""
    if not normalised:
        return frozenset()
    if len(normalised) <= size:
        return frozenset((normalised,))
    return frozenset({normalised[index : index + size] for index in range(len(normalised) - size + 1)})


# A one-to-one relabelling of the commonest characters of normalised text (a permutation of the same
# 37 code points; every other character keeps its own) under which the rarest sort first: sorting a
# text's relabelled shingles then puts those that start with rare characters first, so the prefixes of
# unrelated texts rarely share a shingle (the frequency order of prefix filtering). Jaccard indices are
# unchanged by a one-to-one relabelling.
_COMMONEST_LAST = "zqjx0123456789kvbygpwfmucldhrsnioate "
_RARE_FIRST = str.maketrans(_COMMONEST_LAST, "".join(sorted(_COMMONEST_LAST)))


def comparable_shingles(normalised: str, size: int) -> frozenset[str]:
    """The shingles of a normalised text after the rare-first relabelling: the sets that near-copy
    detection compares and whose sorted prefixes it stores (stable across processes and machines)."""
    return shingles(normalised.translate(_RARE_FIRST), size)


def near_copy_prefix(ordered: Sequence[str], threshold: Fraction) -> tuple[str, ...]:
    """The first ``prefix_length`` of a set's elements given sorted (``ordered``): two sets with a
    Jaccard index >= threshold always share one (see ``prefix_length``). Near-copy detection takes the
    sorted ``comparable_shingles`` of a text."""
    return tuple(ordered[: prefix_length(len(ordered), threshold)])


def prefix_length(size: int, threshold: Fraction) -> int:
    """Return how many of a set's smallest shingles any set with Jaccard >= threshold must share.

    If J(A, B) >= t then |A∩B| >= ceil(t·|A|) and >= ceil(t·|B|), so the smallest common shingle
    lies within the first |A| - ceil(t·|A|) + 1 of A's sorted shingles and likewise for B
    (the prefix filter of Chaudhuri et al. 2006; it only prunes pairs that cannot match).
    """
    # ceil(t·n) in integers: -((-n·p) // q) for t = p/q
    return size + (-size * threshold.numerator) // threshold.denominator + 1


def may_reach_jaccard(
    elements: frozenset[str],
    ordered: Sequence[str],
    other_count: int,
    other_prefix: Sequence[str],
    threshold: Fraction,
) -> bool:
    """Whether a set, given in full (``elements``, and ``ordered``: the same sorted), can have a Jaccard
    index >= threshold with a set of ``other_count`` elements of which only the smallest
    ``len(other_prefix)``, in sorted order, are known. False only when it cannot (an exact necessary
    condition, no false negatives).

    Every common element is either at most the prefix's last element, and then in the prefix (counted
    exactly), or greater, and then one of the elements of ``ordered`` after it and one of the
    ``other_count - len(other_prefix)`` unknown ones; and J(A, B) >= p/q needs |A∩B|·(p+q) >= p·(|A|+|B|)
    (the suffix bound of positional prefix filtering, Xiao et al. 2008).
    """
    if not ordered or not other_count or not other_prefix:
        return bool(ordered) and other_count > 0  # nothing known of the other set: it may
    common = sum(1 for element in other_prefix if element in elements)
    after = len(ordered) - bisect_right(ordered, other_prefix[-1])
    bound = common + min(after, other_count - len(other_prefix))
    return bound * (threshold.numerator + threshold.denominator) >= threshold.numerator * (
        len(ordered) + other_count
    )


def jaccard_at_least(
    first: frozenset[str], second: frozenset[str], *, numerator: int, denominator: int
) -> bool:
    """Return whether |A∩B| / |A∪B| >= numerator/denominator, exactly; empty sets never match."""
    if not first or not second:
        return False
    smaller, larger = sorted((len(first), len(second)))
    # |A∩B| <= |smaller| and |A∪B| >= |larger|, so a size ratio below the threshold cannot match.
    if smaller * denominator < numerator * larger:
        return False
    common = len(first & second)
    union = len(first) + len(second) - common
    return common * denominator >= numerator * union


def normalised_tags(tags: Iterable[str]) -> frozenset[str]:
    """Return platform tags in comparable form."""
    return frozenset(normalise_tag(tag) for tag in tags)
