"""A link that opens the same view: the session's dataset, cascade and budget in the URL.

The address bar always carries the view (``?view=...``: compact JSON, zlib, base64url), so a
refresh comes back to it and a copied address opens it in another browser. Opening a link goes
through the same doors as typing: the dataset path must lie under the data roots, a shared
dashboard's rules apply to the spec's models and servers, and a link that no longer opens (moved
files, a damaged or hand-edited link) leaves the session empty with a note, never an error page.
The sign-in token is never part of the link.

>>> token = encode({"path": "/data/scifact", "split": "test", "fmt": "auto", "label": "SciFact"},
...                {"pool_size": 100}, 50.0)
>>> decode(token)["dataset"]["label"], decode(token)["spec"], decode(token)["budget_ms"]
('SciFact', {'pool_size': 100}, 50.0)
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from urllib.parse import urlsplit

import streamlit as st

PARAM = "view"
MAX_TOKEN_CHARS = 20_000      # a spec of four stages with parameters is well under 2,000
MAX_JSON_BYTES = 200_000      # what a token may expand to (a zlib bomb in a link is refused)
SLOT = "view-link-slot"       # session key: the sidebar placeholder the link is drawn in, this run
DATASET_KEYS = ("path", "split", "fmt", "label", "files")


class BadLink(ValueError):
    """A ``view`` parameter that is not a view this dashboard wrote."""


def encode(dataset: dict | None, spec: dict | None, budget_ms: float | None) -> str:
    """The URL-safe token of a view (deterministic: the same view gives the same token)."""
    view = {"dataset": {k: dataset[k] for k in DATASET_KEYS if k in dataset} if dataset else None,
            "spec": spec, "budget_ms": budget_ms}
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
        view = json.loads(raw.decode("utf-8"))
    except (binascii.Error, zlib.error, UnicodeDecodeError, ValueError) as exc:
        if isinstance(exc, BadLink):
            raise
        raise BadLink("the link is damaged (cut short or edited by hand)") from None
    if not isinstance(view, dict) or set(view) - {"dataset", "spec", "budget_ms"}:
        raise BadLink("the link does not hold a view of this dashboard")
    dataset, spec, budget = view.get("dataset"), view.get("spec"), view.get("budget_ms")
    if dataset is not None and not (isinstance(dataset, dict) and isinstance(dataset.get("path"), str)):
        raise BadLink("the link's dataset has no path")
    if spec is not None and not isinstance(spec, dict):
        raise BadLink("the link's cascade is not a spec")
    if budget is not None and not isinstance(budget, (int, float)):
        raise BadLink("the link's budget is not a number")
    return view


# -- the session's side ------------------------------------------------------------------------

def current_token() -> str | None:
    """This session's view as a token, or None when nothing is loaded."""
    from . import state

    dataset, spec = st.session_state.get(state.DATASET), st.session_state.get(state.SPEC)
    if dataset is None and spec is None:
        return None
    return encode(dataset, spec, st.session_state.get(state.BUDGET))


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


def apply_view(view: dict) -> list[str]:
    """Load a view's dataset, set its cascade and budget (each through the session's usual checks);
    what came back, in words. Serves a link and the last-session file alike (:mod:`.resume`)."""
    from . import state

    said = []
    src = view.get("dataset")
    if src:
        state.load_dataset(src["path"], src.get("split"), src.get("fmt", "auto"), src.get("label"),
                           src.get("files"))
        said.append(f"dataset {src.get('label') or src['path']}")
    if view.get("spec"):
        said.append(f"cascade {state.set_spec(view['spec']).describe()}")
    if view.get("budget_ms") is not None:
        st.session_state[state.BUDGET] = float(view["budget_ms"])
    return said


def open_from_url() -> bool:
    """In a session with nothing loaded, open the view a link carries; True when one was asked for.
    A link that does not open says why in a toast and leaves the session empty."""
    from . import state

    token = st.query_params.get(PARAM)
    if not token:
        return False
    try:
        said = apply_view(decode(token))
    except Exception as exc:  # noqa: BLE001 - moved files, a refused path, a spec of another version
        for key in (state.DATASET, state.SPEC):
            st.session_state.pop(key, None)
        st.query_params.pop(PARAM, None)
        reason = str(exc) if isinstance(exc, BadLink) else f"{type(exc).__name__}: {str(exc)[:160]}"
        st.toast(f"This link's view could not be opened ({reason}).")
        return True
    if said:
        st.toast("Opened the view in the link: " + "; ".join(said) + ".")
    return True
