"""HTTP triggers: route templates under `routePrefix`, methods, auth levels and keys.

Route templates follow the host's syntax: literal segments (case-insensitive), `{name}`,
`{name?}` (optional), `{name:int}` and other constraints, and a trailing catch-all
`{*rest}`. A route without a template is the function's name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ferry.functions.errors import RouteError
from ferry.functions.spec import FunctionSpec

__all__ = ["HttpRoute", "compile_route"]

_CONSTRAINTS = {
    "int": r"-?\d+",
    "long": r"-?\d+",
    "bool": r"(?i:true|false)",
    "alpha": r"[A-Za-z]+",
    "guid": r"[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}",
    "double": r"-?\d+(?:\.\d+)?",
    "float": r"-?\d+(?:\.\d+)?",
    "decimal": r"-?\d+(?:\.\d+)?",
    "datetime": r"[^/]+",
}
_PARAMETER = re.compile(r"^\{(\*)?([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+)(?:\([^)]*\))?)?(\?)?\}$")


def compile_route(template: str) -> tuple[re.Pattern[str], int]:
    """A regex for the path after the prefix, and its number of literal segments (routes
    with more literal segments are tried first)."""
    pattern = ""
    literals = 0
    segments = [s for s in template.strip("/").split("/") if s]
    for index, segment in enumerate(segments):
        match = _PARAMETER.match(segment)
        if match is None:
            if "{" in segment or "}" in segment:
                raise RouteError(f"route segment {segment!r} is not a literal or a {{parameter}}")
            pattern += "/" + re.escape(segment)
            literals += 1
            continue
        catch_all, name, constraint, optional = match.groups()
        if catch_all:
            if index != len(segments) - 1:
                raise RouteError("a catch-all {*parameter} must be the last segment")
            pattern += f"(?:/(?P<{name}>.*))?"
            continue
        if constraint and constraint not in _CONSTRAINTS:
            raise RouteError(f"route constraint {constraint!r} is not supported")
        body = _CONSTRAINTS.get(constraint or "", r"[^/]+")
        part = f"/(?P<{name}>{body})"
        pattern += f"(?:{part})?" if optional else part
    return re.compile(f"^{pattern}/?$", re.IGNORECASE), literals


@dataclass
class HttpRoute:
    function: FunctionSpec
    template: str
    pattern: re.Pattern[str]
    literals: int
    methods: frozenset[str] | None
    auth_level: str

    @classmethod
    def of(cls, function: FunctionSpec, default_level: str) -> HttpRoute:
        trigger = function.trigger
        template = str(trigger.setting("route") or function.name)
        pattern, literals = compile_route(template)
        methods = trigger.setting("methods")
        level = str(trigger.setting("authLevel") or default_level).lower()
        return cls(
            function,
            template.strip("/"),
            pattern,
            literals,
            frozenset(str(m).upper() for m in methods) if methods else None,
            level,
        )

    def match(self, path: str) -> dict[str, str] | None:
        found = self.pattern.match(path)
        if found is None:
            return None
        return {k: v for k, v in found.groupdict().items() if v is not None}
