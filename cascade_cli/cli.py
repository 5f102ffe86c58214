"""The ``cascade`` command: parse, dispatch to one command module, turn bad input into one line.

Each command lives in its own module with an ``add_parser(sub, storage)`` that registers it and
sets its ``run`` function; what they share (dataset, spec and storage flags) is in
:mod:`cascade_cli.common`. Bad arguments and bad data print one ``error:`` line and exit with
status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import io
import sys

from cascade_core.errors import CascadeError, missing_dependency

from . import (calibrate, common, compare, distill, doctor, evaluate, explain, export, forget, index, report,
               serve_model, tune)

# In the order ``cascade --help`` lists them.
COMMAND_MODULES = (evaluate, index, explain, report, tune, doctor, forget, distill, calibrate, compare, export,
                   serve_model)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not argparse's usage dump
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="cascade", description="Build, tune and evaluate cascade rerankers.")
    common.storage_args(p, default=None)
    # Every subcommand takes the storage flags too (after its name), overriding the global ones.
    storage = argparse.ArgumentParser(add_help=False)
    common.storage_args(storage, default=argparse.SUPPRESS)
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for module in COMMAND_MODULES:
        module.add_parser(sub, storage)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    finally:
        common.close_workspaces()


def run(args) -> int:
    """One parsed command, its bad input turned into one ``error:`` line and the status 2."""
    try:
        return args.run(args)
    except CascadeError as exc:
        return fail(str(exc))
    except KeyboardInterrupt:
        print("interrupted; everything scored so far is stored", file=sys.stderr)
        return 130
    except ImportError as exc:   # an optional part not installed: say which extra brings it
        missing = missing_dependency(exc, f"cascade {args.command}")
        if missing is None:
            raise
        return fail(str(missing))
    # Last resort: file problems are checked where they arise (with a better message); one
    # that slips through is still one line naming the file, not a traceback.
    except OSError as exc:
        return fail(describe_os_error(exc))
    except UnicodeDecodeError as exc:
        return fail(f"{file_in_traceback(exc) or 'a file'} is not UTF-8 text "
                     f"(byte {exc.object[exc.start]:#04x} at offset {exc.start})")


def fail(message: str) -> int:
    """Print the one ``error:`` line and give the exit status of bad input."""
    print(f"error: {message}", file=sys.stderr)
    return 2


def describe_os_error(exc: OSError) -> str:
    """``FILE: reason`` for an OSError (both files for a rename), else its text.

    >>> describe_os_error(FileNotFoundError(2, "No such file or directory", "/no/r.json"))
    '/no/r.json: No such file or directory'
    """
    if exc.filename is None:
        return str(exc)
    files = f"{exc.filename} -> {exc.filename2}" if exc.filename2 is not None else f"{exc.filename}"
    return f"{files}: {exc.strerror or exc}"


def file_in_traceback(exc: BaseException) -> str | None:
    """The name of the innermost open file among the traceback's local variables, if any.

    A UnicodeDecodeError does not say which file it came from; the frame that was reading it
    holds the open file object, which does.
    """
    name, tb = None, exc.__traceback__
    while tb is not None:
        for value in tb.tb_frame.f_locals.values():
            if isinstance(value, io.TextIOBase) and isinstance(getattr(value, "name", None), str):
                name = value.name
        tb = tb.tb_next
    return name


if __name__ == "__main__":
    sys.exit(main())
