"""The arithmetic fusions share: per-row normalisations and ranks over the valid entries.

Rows are queries, columns candidates; ``valid`` marks the candidates present (a shorter list is
padded). Every kernel works on the whole batch at once.
"""

from __future__ import annotations

import numpy as np


def minmax(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Min-max normalise each row over its valid entries (a constant row becomes 1; invalid 0).

    >>> minmax(np.array([[2.0, 4.0, 0.0]]), np.array([[True, True, False]])).tolist()
    [[0.0, 1.0, 0.0]]
    """
    lo = np.where(valid, x, np.inf).min(axis=1, keepdims=True)
    hi = np.where(valid, x, -np.inf).max(axis=1, keepdims=True)
    span = hi - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(span > 0, (x - lo) / np.where(span > 0, span, 1), 1.0)
    return np.where(valid, out, 0.0)


def three_sigma(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Qdrant's distribution-based normalisation of each row over its valid entries: the mean
    minus three (sample) standard deviations maps to 0, the mean plus three to 1, nothing is
    clipped; a row of one entry, or of equal ones, becomes 0.5 (as Qdrant's ``distr_norm``).

    >>> three_sigma(np.array([[1.0, 2.0, 3.0, 9.0]]), np.array([[True, True, True, False]])).round(3).tolist()
    [[0.333, 0.5, 0.667, 0.0]]
    >>> three_sigma(np.array([[4.0, 4.0]]), np.ones((1, 2), bool)).tolist()
    [[0.5, 0.5]]
    >>> three_sigma(np.array([[43.4647813231543] * 3]), np.ones((1, 3), bool)).tolist()   # no rounding spread
    [[0.5, 0.5, 0.5]]
    """
    n = valid.sum(axis=1, keepdims=True)
    # Shifted by each row's first valid entry: equal entries then give a mean equal to them and a
    # variance of exactly 0 (as Qdrant's running mean does), not a rounding error's tiny spread
    # that would scale them to 0.41 instead of 0.5.
    first = np.take_along_axis(x, np.argmax(valid, axis=1)[:, None], axis=1)
    shifted = np.where(valid, x - first, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = first + shifted.sum(axis=1, keepdims=True) / np.maximum(n, 1)
        var = (np.where(valid, x - mean, 0.0) ** 2).sum(axis=1, keepdims=True) / np.maximum(n - 1, 1)
        std = np.sqrt(var)
        lo, span = mean - 3 * std, 6 * std
        out = np.where(span > 0, (x - lo) / np.where(span > 0, span, 1), 0.5)
    return np.where(valid, out, 0.0)


def ranks(scores: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """1-based rank of each entry within its row by descending score (ties: earlier column first).

    >>> ranks(np.array([[0.2, 0.9, 0.5]]), np.ones((1, 3), bool)).tolist()
    [[3, 1, 2]]
    """
    key = np.where(valid, scores, -np.inf)
    return np.argsort(np.argsort(-key, axis=1, kind="stable"), axis=1) + 1
