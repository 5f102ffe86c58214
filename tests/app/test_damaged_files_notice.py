"""The dashboard says when a damaged file was moved aside and rebuilt (a warning on every page),
and a store found damaged mid-run is an error line, not a traceback."""

from __future__ import annotations

import os

from streamlit.testing.v1 import AppTest

from tests.app.rendered import shown


def _notices_page(home: str):
    from cascade_core.scoring.workspace import Workspace
    from cascade_ui.widgets import file_notices

    file_notices(Workspace(home))


def _damaged_mid_run_page():
    from cascade_core.errors import StoreDamagedError
    from cascade_ui.widgets import shown_errors

    with shown_errors():
        raise StoreDamagedError("the score store /x/scores.sqlite was damaged (file is not a database): moved to "
                                "/x/scores.sqlite.damaged-20260101-120000; a new empty store replaces it")


def test_a_rebuilt_store_is_a_warning_on_the_page(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "scores.sqlite").write_bytes(b"SQLite format 3\x00" + os.urandom(8192))   # a header, then noise
    at = AppTest.from_function(_notices_page, args=(str(home),), default_timeout=60)
    at.run()
    assert not at.exception
    (warning,) = at.warning
    said = shown(warning.value)
    assert "the score store" in said and "moved to" in said and str(home) in said


def test_a_store_damaged_mid_run_is_one_error_line():
    at = AppTest.from_function(_damaged_mid_run_page, default_timeout=60)
    at.run()
    assert not at.exception
    (error,) = at.error
    assert error.value.startswith("the score store") and "moved to" in error.value
