"""Ferry: agent service, queue service and functions host for the Azure agents + Functions flow.

The package is organised by the parts of DESIGN.md: `ferry.queues` (the Azure Storage Queue
protocol), `ferry.store` (the database seam shared by every part), `ferry.cli` (the `ferry`
command). Later parts (`agents`, `runs`, `models`, `functions`, `identity`) follow the same shape.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
