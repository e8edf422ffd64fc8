"""The web dashboard: what the store knows about agents, runs and queues, shown to people.

Read-only and server-rendered, with every asset served by Ferry so it works offline; behind
the same local identity as the APIs (`ferry.dashboard.session`). The platform mounts
`dashboard_routes` on the agents app at `/dashboard`.
"""

from __future__ import annotations

from ferry.dashboard.app import PREFIX, build_dashboard, dashboard_routes

__all__ = ["PREFIX", "build_dashboard", "dashboard_routes"]
