"""carerun: plan care-at-home visits on real roads.

The public API is re-exported here; see the README for a quick start.
"""

from carerun._errors import CarerunError, InputError, NetworkError, PlanCheckError, SolveError
from carerun.model import (
    Assignment,
    Carer,
    Location,
    Mode,
    ModelError,
    Plan,
    Provider,
    ProviderKind,
    Roster,
    Shift,
    TimeWindow,
    Unassigned,
    UnassignedReason,
    Visit,
)

__version__ = "0.1.0"

__all__ = [
    "Assignment",
    "Carer",
    "CarerunError",
    "InputError",
    "Location",
    "Mode",
    "ModelError",
    "NetworkError",
    "Plan",
    "PlanCheckError",
    "Provider",
    "ProviderKind",
    "Roster",
    "Shift",
    "SolveError",
    "TimeWindow",
    "Unassigned",
    "UnassignedReason",
    "Visit",
    "__version__",
]
