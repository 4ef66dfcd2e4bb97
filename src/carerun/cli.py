"""The ``carerun`` command: a thin layer over the public functions.

Each sub-command has an ``_add_<name>`` function that declares its options and a
``_run_<name>`` function that does the work. User mistakes (any :class:`CarerunError`) print a
plain message and exit 2; there is never a traceback for them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from carerun import __version__
from carerun._errors import CarerunError

EXIT_OK = 0
EXIT_PROBLEMS = 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return EXIT_PROBLEMS
    try:
        return int(args.run(args))
    except CarerunError as exc:
        print(f"carerun: error: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    except KeyboardInterrupt:
        print("carerun: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="carerun",
        description="Plan care-at-home visits on real roads.",
    )
    parser.add_argument("--version", action="version", version=f"carerun {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for add in (_add_demo,):
        add(sub)
    return parser


# demo -----------------------------------------------------------------------------------


def _add_demo(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="run the main job on the bundled example week")
    p.add_argument("--out", type=Path, default=Path("demo-output"), help="output folder")
    p.set_defaults(run=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from carerun.examples import example_roster_path
    from carerun.roster import read_roster

    path = example_roster_path()
    roster = read_roster(path)
    print(f"Read and validated {path.name}: no problems.")
    print(roster.summary())
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
