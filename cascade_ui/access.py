"""Who may use the dashboard and what it may touch: the sign-in gate of a shared dashboard, the
data roots a typed path must lie under, the uploads folder and its quota, read-only mode, and one
scoring job at a time per session.

The rules are :mod:`cascade_core.serving`'s; this module reads Streamlit's state (the server's
address, the session, the query string) and lays them out. In ``app.py``::

    access.guard_uploads()                    # shared: no upload before the sign-in
    if access.token_refusal():                # shared with a short CASCADE_TOKEN: one line, nothing else
        st.error(access.token_refusal())
    elif access.signed_in():
        st.navigation(PAGES).run()
    else:
        access.sign_in_navigation().run()     # a sign-in box and nothing else
"""

from __future__ import annotations

import gc
import hashlib
import os
import threading
from pathlib import Path

import pandas as pd
import streamlit as st

from cascade_core.cascade.presets import \
    CROSS_ENCODER_ENV  # the presets' cross-encoder, when set: a shared dashboard may load it
from cascade_core.scorers import ScorerConfig
from cascade_core.serving import (DataRoots, GuessThrottle, JobSlots, PathRefused, ReadOnly, ServeSettings,
                                  TooManyGuesses, UploadArea, UploadGate, WeakToken, check_shared_scorers,
                                  check_shared_spec, check_token, data_roots, log_line, mb, names_local_path,
                                  new_token)

from . import session

SIGNED_IN = "access-signed-in"     # session key: this session gave the right token
LINK_TRIED = "access-link-tried"   # session key: the ?token= value this session already had checked
MY_UPLOADS = "access-my-uploads"   # session key: the uploads made in this session
UPLOADER_RUN = "access-uploader"   # session key: bumped to empty the file uploader after a removal


def settings() -> ServeSettings:
    """The serving settings. A server whose address is not loopback counts as shared; so does one
    whose address is unset (Streamlit then listens on every interface: run from another folder,
    the app's .streamlit/config.toml is not read)."""
    address = st.get_option("server.address")
    return ServeSettings.from_env(address=address or "")


def read_only() -> bool:
    return settings().read_only


def refuse_if_read_only(what: str) -> None:
    """Raise :class:`~cascade_core.serving.ReadOnly` ("... does not score") in a read-only dashboard."""
    if read_only():
        raise ReadOnly(f"this dashboard is read-only: it shows what is stored and does not {what}")


# -- the sign-in gate -------------------------------------------------------------------------

@st.cache_resource(show_spinner=False)
def server_token() -> str:
    """The token of this server: ``CASCADE_TOKEN`` (:class:`~cascade_core.serving.WeakToken` when it
    is too short to share with), or one made now and printed in the terminal (``./run.sh demo
    --share`` makes one at start and prints the link itself)."""
    token = settings().token
    if token:
        check_token(token)
        return token
    token = new_token()
    log_line(f"the dashboard is shared. Visitors sign in with this token: {token}\n"
             f"  or open http://<this machine>:{st.get_option('server.port')}/?token={token}")
    return token


def token_refusal() -> str | None:
    """Shared with a ``CASCADE_TOKEN`` shorter than :data:`~cascade_core.serving.MIN_TOKEN_CHARS`:
    the one line saying so (the page shows it instead of the sign-in box; the log has it once).
    ``None`` otherwise."""
    s = settings()
    if not s.share or not s.token:
        return None
    try:
        check_token(s.token)
    except WeakToken as exc:
        if str(exc) not in _logged:
            _logged.add(str(exc))
            log_line(str(exc))
        return f"{exc}."
    return None


_logged: set[str] = set()   # the lines token_refusal already wrote in the log (one per start, not per visit)


@st.cache_resource(show_spinner=False)
def guess_throttle() -> GuessThrottle:
    """The server's one :class:`~cascade_core.serving.GuessThrottle`: the sign-in box and the
    ``?token=`` link both take their turns there (a link is a guess too: it used to cost nothing,
    7 guesses a second from one tab)."""
    return GuessThrottle()


def _address() -> str:
    # Streamlit gives no address for a visitor on this machine (127.0.0.1, ::1), nor a string under AppTest.
    ip = st.context.ip_address
    return ip if isinstance(ip, str) and ip else "localhost"


def _check_guess(given: str) -> bool:
    """Whether ``given`` is the token, after this address's turn (:meth:`GuessThrottle.check`);
    TooManyGuesses, unchecked, when the turn is too far off."""
    return guess_throttle().check(_address(), given, server_token())


def signed_in() -> bool:
    """Whether this session may see the dashboard: always when it is not shared; when shared, once
    the session gave the token (``?token=...`` in the link, or typed in the sign-in box). A link's
    token is checked once per session and value (each rerun of the sign-in box would otherwise
    cost a turn), through the same throttle as the box."""
    if not settings().share or st.session_state.get(SIGNED_IN):
        return True
    server_token()   # made (and printed in the log) at the first visit, when no CASCADE_TOKEN chose it
    given = st.query_params.get("token")
    if not given:
        return False
    tried = hashlib.sha256(given.encode()).hexdigest()
    if st.session_state.get(LINK_TRIED) == tried:
        return False
    st.session_state[LINK_TRIED] = tried
    try:
        right = _check_guess(given)
    except TooManyGuesses:
        return False
    if right:
        st.session_state[SIGNED_IN] = True
    return right


def sign_in_page() -> None:
    """A sign-in box, and nothing else of the dashboard."""
    st.title("cascade-explorer")
    st.write("This dashboard is shared. Sign in with the access token from the person who started it.")
    with st.form("sign-in", border=True):
        typed = st.text_input("Access token", type="password", key="sign-in-token")
        pressed = st.form_submit_button("Sign in", type="primary")
    if pressed:
        try:
            right = _check_guess(typed)   # waits first when this address (or anyone) guessed wrong lately
        except TooManyGuesses as exc:
            st.error(f"Not checked: {exc}.")
            right = None
        if right:
            st.session_state[SIGNED_IN] = True
            # In the address bar, as in the link the operator hands out: a reload stays signed in.
            st.query_params["token"] = typed
            st.rerun()
        elif right is False:
            st.error("That token is not right.")
    elif st.query_params.get("token"):
        st.error("The token in this link is not right (the dashboard may have been restarted with a new one).")
    st.caption("Whoever started it with `./run.sh demo --share` finds the link, with its token, in that terminal.")


# -- uploads before the sign-in ----------------------------------------------------------------

_GUARDING = threading.Lock()
_uploads_guarded = False   # guard_uploads has run in this process


def guard_uploads() -> None:
    """Shared: refuse file uploads from every session that has not signed in.

    Why this exists: Streamlit's upload endpoint (``PUT /_stcore/upload_file/<session id>/<file
    id>``) stores a file for any connected session, and the sign-in gate above lives in the
    script, which never sees that request: a visitor still on the sign-in box, with a self-made
    XSRF value in cookie and header, had the server keep 4 x 100 MB (issue 24). The app runs in
    the server's process, so once per process it puts an
    :class:`~cascade_core.serving.UploadGate` in front of that route (found among the process's
    Starlette routes by Streamlit's own path for it): a PUT for a session whose session state
    lacks :data:`SIGNED_IN` gets 403 at header time, before its body is read. Behind it, the
    runtime's upload store (:func:`_guard_upload_store`) refuses a file for such a session too and
    drops what such sessions stored before: the gate is installed by the first script run after
    the server starts, and an upload sent in the second that run takes to get here, or after a
    Streamlit release moved the route, is then read but not kept. Not shared (or under AppTest,
    whose runtime is a stand-in): nothing is installed.
    """
    global _uploads_guarded
    if _uploads_guarded or not settings().share:
        return
    from streamlit.runtime import Runtime

    if not Runtime.exists() or not isinstance(Runtime.instance(), Runtime):
        return
    with _GUARDING:
        if _uploads_guarded:
            return
        routes = _upload_routes()
        for route in routes:
            if not isinstance(route.app, UploadGate):
                route.app = UploadGate(route.app, _session_signed_in)
        _guard_upload_store(Runtime.instance().uploaded_file_mgr, _session_signed_in)
        _uploads_guarded = True
        if not routes:
            log_line("warning: Streamlit's upload route was not found; uploads from sessions that have not "
                     "signed in are read, then dropped (not kept)")


def _upload_routes() -> list:
    """The process's Starlette routes taking ``PUT`` at Streamlit's upload path. Streamlit keeps
    no public handle on its Starlette app, so they are found among the live objects (once)."""
    from starlette.routing import Route
    from streamlit.web.server.server import UPLOAD_FILE_ENDPOINT

    return [o for o in gc.get_objects() if isinstance(o, Route) and UPLOAD_FILE_ENDPOINT + "/" in o.path
            and "PUT" in (o.methods or ())]


def _guard_upload_store(manager, signed_in) -> None:
    """Make Streamlit's upload store (``UploadedFileManager``: ``add_file``, ``remove_session_files``)
    refuse files of sessions that have not ``signed_in(session_id)`` (HTTP 403 from the upload
    route), and drop the files such sessions stored before this was installed."""
    from starlette.exceptions import HTTPException

    add_file = manager.add_file

    def add_file_if_signed_in(session_id, file):
        if not signed_in(session_id):
            log_line("upload dropped: its session has not signed in")
            raise HTTPException(status_code=403, detail="Sign in first")
        return add_file(session_id, file)

    manager.add_file = add_file_if_signed_in
    for session_id in list(getattr(manager, "file_storage", {})):
        if not signed_in(session_id):
            manager.remove_session_files(session_id)


def _session_signed_in(session_id: str) -> bool:
    """Whether the live session ``session_id`` gave the token (read from the server's thread:
    any doubt, such as a session that is gone, counts as no)."""
    from streamlit.runtime import Runtime

    try:
        session = Runtime.instance().get_app_session(session_id)
        return session is not None and bool(session.session_state[SIGNED_IN])
    except Exception:  # noqa: BLE001 - a missing key, a closing session: not signed in
        return False


def sign_in_navigation(url_paths: tuple[str, ...] = ()):
    """The navigation of a visitor who has not signed in: hidden pages that all show the sign-in
    box, one at ``sign-in`` and one at each of the dashboard's own paths, so a link to a page
    (``/evaluate``) asks for the token and, once signed in, opens that page (not "Page not found")."""
    pages = [st.Page(sign_in_page, title="Sign in", icon=":material/lock:", url_path="sign-in", default=True)]
    pages += [st.Page(sign_in_page, title="Sign in", icon=":material/lock:", url_path=path)
              for path in url_paths if path and path != "sign-in"]
    return st.navigation(pages, position="hidden")


def sidebar_note() -> None:
    """In a shared or read-only dashboard, one line in the sidebar saying so."""
    s = settings()
    if s.read_only:
        st.sidebar.caption("**Read-only:** browse, move the sliders, inspect. Nothing new is loaded or scored.")
    elif s.share:
        st.sidebar.caption("**Shared dashboard:** datasets open from the data roots only; one scoring job at a "
                           "time per visitor.")


# -- data roots and uploads -------------------------------------------------------------------

def uploads() -> UploadArea:
    return UploadArea.for_home(session.workspace().home, settings())


def roots() -> DataRoots:
    """Where a typed path may lead: the bundled samples, the uploads, ``CASCADE_DATA_ROOTS`` (and,
    when not shared, ``../shared``): :func:`cascade_core.serving.data_roots`. When shared, of the
    uploads only this session's own: a visitor must not open (or list) another visitor's."""
    s = settings()
    base = data_roots(s, [session.REPO / "sample_data", session.sample_path()], uploads().folder)
    if not s.share:
        return base
    folder = uploads().folder.resolve()
    mine = [folder / d for d in st.session_state.get(MY_UPLOADS, [])]
    return DataRoots([*(r for r in base.roots if r != folder), *mine])


def check_path(path: str) -> Path:
    """``path`` resolved, or PathRefused naming the roots (and nothing about ``path``). Shared, a
    path into the uploads folder opens only this session's own uploads, even when an operator's
    root happens to hold the data folder."""
    allowed = roots()
    resolved = allowed.check(path)
    if settings().share:
        folder = uploads().folder.resolve()
        mine = [folder / d for d in st.session_state.get(MY_UPLOADS, [])]
        if resolved.is_relative_to(folder) and not any(resolved.is_relative_to(m) for m in mine):
            raise PathRefused(allowed.refusal(), allowed.roots)
    return resolved


def model_roots() -> DataRoots:
    """Where a shared dashboard loads model folders from: the data roots, the data folder's
    ``models/`` (distilled students, the stand-in) and ``CASCADE_CROSS_ENCODER``'s folder."""
    chosen = os.environ.get(CROSS_ENCODER_ENV, "").strip()
    extra = [chosen] if chosen and names_local_path(chosen) else []
    return DataRoots([*roots().roots, session.workspace().home / "models", *extra])


def check_spec(spec) -> None:
    """On a shared dashboard, refuse (SpecRefused) a spec naming a model folder outside the roots,
    an LLM server the operator did not list, or another API-key variable
    (:func:`cascade_core.serving.check_shared_scorers`)."""
    s = settings()
    if s.share:
        check_shared_spec(spec, model_roots(), s.server_urls)


def check_model(name: str, kind: str = "bi-encoder", params: dict | None = None) -> None:
    """The same rule for a model typed on its own (the Data page's index model, the Judge page's
    LLM judge with its server and API-key variable in ``params``)."""
    s = settings()
    if s.share:
        check_shared_scorers([ScorerConfig(kind, name, dict(params or {}))], model_roots(), s.server_urls)


def uploader_key() -> str:
    return f"upload-{st.session_state.get(UPLOADER_RUN, 0)}"


def store_upload(files) -> Path:
    """Store Streamlit uploads in ``uploads/<content hash>/`` within the quota (QuotaExceeded when
    they do not fit); BEIR's stray qrels ``.tsv`` files go to ``qrels/``. The folder."""
    refuse_if_read_only("take uploads")
    # The whole content names the folder: a file fixed anywhere, even past its first
    # kilobytes, is a new upload, never the old one read back.
    digest = hashlib.sha1(b"".join(hashlib.sha1(f.name.encode() + b"\0" + f.getvalue()).digest()
                                   for f in files)).hexdigest()[:16]
    names = {Path(f.name).name for f in files}
    beir = "corpus.jsonl" in names or "corpus.jsonl.gz" in names
    layout = {}
    for f in files:
        name = Path(f.name).name
        if beir and name.endswith(".tsv") and not name.startswith(("corpus", "queries")):
            name = f"qrels/{name}"
        layout[name] = f.getvalue()
    area = uploads()
    known = {u.name: u for u in area.entries()}
    if digest not in known or set(known[digest].files) != set(layout):
        area.store(digest, layout)
    mine = st.session_state.setdefault(MY_UPLOADS, [])
    if digest not in mine:
        mine.append(digest)
    return area.folder / digest


def uploads_panel() -> None:
    """The uploads folder: its use of the quota, the uploads (this session's only, when shared) and
    a Remove button."""
    area, s = uploads(), settings()
    entries = area.entries()
    logs = area.counted_bytes()
    used = sum(u.bytes for u in entries) + logs
    if s.share:
        entries = [u for u in entries if u.name in st.session_state.get(MY_UPLOADS, [])]
    quota = area.quota_bytes
    full = quota is not None and used >= quota
    title = f"Uploads: {mb(used)} of {mb(quota)} used" if quota else f"Uploads: {mb(used)}"
    with st.expander(title + (" (full)" if full else ""), expanded=full):
        if quota and logs:   # the judgment logs share the quota (they are people's work: never removed here)
            st.caption(f"Of which judgment logs: {mb(logs)} (judgments and queries added on the Judge page).")
        if full:
            st.warning("The uploads folder is full: remove old uploads before adding new ones"
                       + (" (only yours are listed here)." if s.share else "."))
        if not entries:
            st.caption("No uploads" + (" from this session." if s.share else " yet."))
            return
        st.dataframe(pd.DataFrame([{"upload": u.name, "files": ", ".join(u.files), "size": mb(u.bytes),
                                    "uploaded": u.age} for u in entries]), hide_index=True, width="stretch")
        labels = {u.name: f"{', '.join(u.files)} ({mb(u.bytes)}, {u.age})" for u in entries}
        chosen = st.multiselect("Uploads to remove", list(labels), format_func=labels.get, key="uploads-chosen")
        if st.button("Remove", key="uploads-remove", disabled=not chosen):
            for name in chosen:
                area.remove(name)
            src = st.session_state.get(session.DATASET) or {}
            if any(Path(src.get("path", "")).is_relative_to(area.folder / n) for n in chosen):
                st.session_state.pop(session.DATASET, None)   # its files are gone
            st.session_state[UPLOADER_RUN] = st.session_state.get(UPLOADER_RUN, 0) + 1
            st.session_state.pop("uploads-chosen", None)
            st.rerun()


# -- long jobs --------------------------------------------------------------------------------

@st.cache_resource(show_spinner=False)
def _jobs() -> JobSlots:
    return JobSlots(settings().max_jobs)


def background_slot(what: str):
    """A factory of :func:`job_slot`'s context manager for work that runs in a background thread
    (a distillation), taken in the thread, where no session is. It counts against the server's
    cap like any job, but not against the session's own slot: a training run of hours must not
    stop the person who started it from scoring a cut-off meanwhile."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    owner, slots = f"{ctx.session_id if ctx else 'no-session'}:background", _jobs()
    return lambda: slots.hold(owner, what)


def job_slot(what: str):
    """A context manager holding this session's one job slot while ``what`` runs (JobRefused when
    the session already runs one, or the server runs as many as ``CASCADE_MAX_JOBS``)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return _jobs().hold(ctx.session_id if ctx else "no-session", what)
