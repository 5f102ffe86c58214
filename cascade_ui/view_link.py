"""A link that opens the same view: the session's dataset, cascade and budget in the URL.

The address bar always carries the view (``?view=...``: compact JSON, zlib, base64url), so a
refresh comes back to it and a copied address opens it in another browser. Opening a link goes
through the same doors as typing: the dataset path must lie under the data roots, a shared
dashboard's rules apply to the spec's models and servers, and a link that no longer opens (moved
files, a damaged or hand-edited link) leaves the session empty with a note, never an error page.
The sign-in token is never part of the link. The dataset's label, the one free text a link
carries, must be one line of plain text (:func:`plain_label`); like every text from a link, the
pages show it escaped (:mod:`cascade_ui.text`), never as Markdown.

>>> token = encode({"path": "/data/scifact", "split": "test", "fmt": "auto", "label": "SciFact"},
...                {"pool_size": 100}, 50.0)
>>> decode(token)["dataset"]["label"], decode(token)["spec"], decode(token)["budget_ms"]
('SciFact', {'pool_size': 100}, 50.0)
"""

from __future__ import annotations

import base64
import binascii
import json
import unicodedata
import zlib
from urllib.parse import urlsplit

import streamlit as st

from cascade_core.readback import Unreadable, loads

from . import session

PARAM = "view"
MAX_TOKEN_CHARS = 20_000      # a spec of four stages with parameters is well under 2,000
MAX_JSON_BYTES = 200_000      # what a token may expand to (a zlib bomb in a link is refused)
SLOT = "view-link-slot"       # session key: the sidebar placeholder the link is drawn in, this run
DATASET_KEYS = ("path", "split", "fmt", "label", "files")
MAX_LABEL_CHARS = 120         # a dataset's name, or "uploaded: " and a few file names
MAX_FIELD_CHARS = 4_096       # a path (PATH_MAX), a split, a format


class BadLink(ValueError):
    """A ``view`` parameter that is not a view this dashboard wrote."""


def plain_label(label: object) -> bool:
    """Whether a dataset label may travel in a link: one line of at most ``MAX_LABEL_CHARS``
    printable characters (no control, format or private-use character: no newline, tab,
    right-to-left override or zero-width space to hide or reorder what is shown).

    >>> plain_label("SciFact sample (bundled)"), plain_label("uploaded: corpus.jsonl, q.tsv")
    (True, True)
    >>> plain_label("x" * 121), plain_label("line\\nbreak"), plain_label("evil\\u202egnp.exe"), plain_label("")
    (False, False, False, False)
    """
    return (isinstance(label, str) and 0 < len(label) <= MAX_LABEL_CHARS
            and not any(unicodedata.category(c)[0] == "C" or unicodedata.category(c) in ("Zl", "Zp")
                        for c in label))


def encode(dataset: dict | None, spec: dict | None, budget_ms: float | None) -> str:
    """The URL-safe token of a view (deterministic: the same view gives the same token)."""
    if dataset:
        # A label no link may carry (too long, several lines) stays out: the link still opens the
        # dataset, under the dataset's own name.
        dataset = {k: dataset[k] for k in DATASET_KEYS if k in dataset and (k != "label" or plain_label(dataset[k]))}
    view = {"dataset": dataset or None, "spec": spec, "budget_ms": budget_ms}
    raw = json.dumps(view, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode("ascii").rstrip("=")


def decode(token: str) -> dict:
    """The view in a token; :class:`BadLink` with the reason for anything else."""
    if not isinstance(token, str) or not token:
        raise BadLink("the link carries no view")
    if len(token) > MAX_TOKEN_CHARS:
        raise BadLink(f"the link's view is {len(token):,} characters long (at most {MAX_TOKEN_CHARS:,})")
    try:
        packed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        inflater = zlib.decompressobj()
        raw = inflater.decompress(packed, MAX_JSON_BYTES)
        if inflater.unconsumed_tail:
            raise BadLink(f"the link's view expands beyond {MAX_JSON_BYTES:,} bytes")
        view = loads(raw, max_chars=MAX_JSON_BYTES)   # strict: no NaN, no 5,000 digits, no deep nesting
    except (binascii.Error, zlib.error, UnicodeDecodeError, ValueError, Unreadable) as exc:
        if isinstance(exc, BadLink):
            raise
        raise BadLink("the link is damaged (cut short or edited by hand)") from None
    if not isinstance(view, dict) or set(view) - {"dataset", "spec", "budget_ms"}:
        raise BadLink("the link does not hold a view of this dashboard")
    dataset, spec, budget = view.get("dataset"), view.get("spec"), view.get("budget_ms")
    if dataset is not None:
        _check_dataset(dataset)
    if spec is not None and not isinstance(spec, dict):
        raise BadLink("the link's cascade is not a spec")
    if budget is not None and not isinstance(budget, (int, float)):
        raise BadLink("the link's budget is not a number")
    return view


def _check_dataset(dataset: object) -> None:
    """BadLink unless a link's dataset is a path with short text fields and a plain label."""
    if not (isinstance(dataset, dict) and isinstance(dataset.get("path"), str)):
        raise BadLink("the link's dataset has no path")
    for key in ("path", "split", "fmt"):
        value = dataset.get(key)
        if value is not None and not (isinstance(value, str) and len(value) <= MAX_FIELD_CHARS):
            raise BadLink(f"the link's dataset {key} is not a short text")
    files = dataset.get("files")
    if files is not None and not (isinstance(files, list) and all(
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) and len(x) <= MAX_FIELD_CHARS
                                                             for x in pair) for pair in files)):
        raise BadLink("the link's dataset files are not (role, path) pairs")
    if "label" in dataset and not plain_label(dataset["label"]):
        raise BadLink(f"the link's dataset label is not one line of plain text (at most {MAX_LABEL_CHARS} "
                      "characters)")


# -- the session's side ------------------------------------------------------------------------

def current_token() -> str | None:
    """This session's view as a token, or None when nothing is loaded."""
    dataset, spec = st.session_state.get(session.DATASET), session.spec()
    spec = spec.to_dict() if spec is not None else None
    if dataset is None and spec is None:
        return None
    return encode(dataset, spec, st.session_state.get(session.BUDGET))


def publish() -> None:
    """Put this session's view in the address bar (after each change, and after a page switch,
    which clears query parameters), and redraw the sidebar's link if it is drawn this run."""
    token = current_token()
    if token is not None and st.query_params.get(PARAM) != token:
        st.query_params[PARAM] = token
    slot = st.session_state.get(SLOT)
    if slot is not None:
        _draw(slot, token)


def share_url(token: str) -> str:
    """The full link: this server's address (as the browser reached it) and the view, no token."""
    try:
        parts = urlsplit(st.context.url or "")
        base = f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.netloc else ""
    except Exception:  # noqa: BLE001 - no browser (AppTest): a relative link still works when pasted
        base = ""
    return f"{base}?{PARAM}={token}"


def sidebar() -> None:
    """A "Link to this view" box in the sidebar, kept current for the rest of this run."""
    slot = st.sidebar.empty()
    st.session_state[SLOT] = slot
    _draw(slot, current_token())


def _draw(slot, token: str | None) -> None:
    if token is None:
        slot.empty()
        return
    with slot.container():
        with st.expander("Link to this view", icon=":material/link:"):
            st.code(share_url(token), language=None, wrap_lines=True)
            st.caption("Opens this dataset, cascade and budget in another browser or after a refresh "
                       "(the address bar carries it too). It holds paths on this server, no sign-in token.")


