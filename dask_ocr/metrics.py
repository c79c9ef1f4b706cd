"""Text accuracy metrics: character/word error rates and bag-of-words precision/recall/F1.

Every metric takes either two strings or two equal-length sequences of strings; sequences are
pooled (total edits over total reference length), never averaged per item.  Whitespace is collapsed
before comparison, as DESIGN §7 prescribes; ``ignore_case=True`` compares case-insensitively (SROIE).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["normalize_text", "edit_distance", "cer", "wer", "bag_of_words", "WordScores", "same_line_counts"]

Texts = str | Sequence[str]


def normalize_text(text: str | None, ignore_case: bool = False) -> str:
    """Collapse runs of whitespace to one space and strip; ``None`` becomes ``""``."""
    text = " ".join((text or "").split())
    return text.lower() if ignore_case else text


def edit_distance(a: Sequence, b: Sequence) -> int:
    """Levenshtein distance between two sequences (unit costs)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, item_a in enumerate(a, 1):
        current = [i]
        for j, item_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (item_a != item_b)))
        previous = current
    return previous[-1]


def _pairs(reference: Texts, hypothesis: Texts) -> list[tuple[str, str]]:
    if isinstance(reference, str) and isinstance(hypothesis, str):
        return [(reference, hypothesis)]
    if isinstance(reference, str) or isinstance(hypothesis, str):
        raise TypeError("pass two strings or two sequences of strings")
    if len(reference) != len(hypothesis):
        raise ValueError(f"length mismatch: {len(reference)} references, {len(hypothesis)} hypotheses")
    return list(zip(reference, hypothesis, strict=True))


def cer(reference: Texts, hypothesis: Texts, ignore_case: bool = False) -> float:
    """Character error rate: total edit distance / total reference characters."""
    edits = chars = 0
    for ref, hyp in _pairs(reference, hypothesis):
        ref, hyp = normalize_text(ref, ignore_case), normalize_text(hyp, ignore_case)
        edits += edit_distance(ref, hyp)
        chars += len(ref)
    return edits / chars if chars else float(edits > 0)


def wer(reference: Texts, hypothesis: Texts, ignore_case: bool = False) -> float:
    """Word error rate: total word-level edit distance / total reference words."""
    edits = words = 0
    for ref, hyp in _pairs(reference, hypothesis):
        ref_words = normalize_text(ref, ignore_case).split()
        edits += edit_distance(ref_words, normalize_text(hyp, ignore_case).split())
        words += len(ref_words)
    return edits / words if words else float(edits > 0)


@dataclass(frozen=True)
class WordScores:
    """Pooled bag-of-words scores (SROIE task-2 style)."""

    precision: float
    recall: float
    f1: float
    matched: int
    predicted: int
    expected: int


def bag_of_words(reference: Texts, hypothesis: Texts, ignore_case: bool = False) -> WordScores:
    """Multiset word matching, pooled over all items: precision, recall and F1."""
    matched = predicted = expected = 0
    for ref, hyp in _pairs(reference, hypothesis):
        ref_words = Counter(normalize_text(ref, ignore_case).split())
        hyp_words = Counter(normalize_text(hyp, ignore_case).split())
        matched += sum((ref_words & hyp_words).values())
        predicted += sum(hyp_words.values())
        expected += sum(ref_words.values())
    precision = matched / predicted if predicted else 0.0
    recall = matched / expected if expected else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return WordScores(precision, recall, f1, matched, predicted, expected)


def same_line_counts(boxes, lines) -> tuple[int, int, int]:
    """True positive, false positive and false negative same-line pairs of one page.

    Two ground-truth boxes are on one line when their vertical overlap is at least half the lower
    box's height, on different lines when they do not overlap; ``lines`` are the found lines (index lists).
    """
    boxes = np.asarray(boxes, dtype=float)
    line_of = np.empty(len(boxes), dtype=int)
    for number, line in enumerate(lines):
        line_of[line] = number
    top, bottom = boxes[:, 1], boxes[:, 3]
    overlap = np.minimum(bottom[:, None], bottom[None, :]) - np.maximum(top[:, None], top[None, :])
    smaller = np.minimum((bottom - top)[:, None], (bottom - top)[None, :])
    same_truth = overlap >= 0.5 * smaller
    different_truth = overlap <= 0
    same_found = line_of[:, None] == line_of[None, :]
    upper = np.triu(np.ones_like(same_found), k=1)
    tp = int((same_truth & same_found & upper).sum())
    fp = int((different_truth & same_found & upper).sum())
    fn = int((same_truth & ~same_found & upper).sum())
    return tp, fp, fn
