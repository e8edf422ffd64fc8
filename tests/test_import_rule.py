"""The import rule of docs/architecture.md: cli → platform → parts → store → base.

A module imports only from its own layer or the layers below; a part imports another part
only along an edge listed here; the modules that build a process (the run engine, the
functions host, the services' apps…) are imported only by their own part and the platform.
Every import counts: at module level, in functions, under TYPE_CHECKING, relative ones.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import ferry

ROOT = Path(ferry.__file__).parent

BASE, STORE, PARTS, PLATFORM, CLI = range(5)
LAYER_NAMES = ("base", "store", "parts", "platform", "cli")

LAYERS = {
    # base: shared leaves anyone may import; they import only each other.
    "ferry": BASE,  # the package itself: __version__
    "errors": BASE,
    "types": BASE,
    "jsontext": BASE,
    "tracing": BASE,
    "clock": BASE,
    "ids": BASE,
    "files": BASE,
    "instance": BASE,
    "spawn": BASE,
    "store": STORE,
    "agents": PARTS,
    "dashboard": PARTS,
    "runs": PARTS,
    "models": PARTS,
    "knowledge": PARTS,
    "tools": PARTS,
    "queues": PARTS,
    "identity": PARTS,
    "functions": PARTS,
    "deploy": PARTS,
    "scaffold": PARTS,
    "settings": PARTS,  # holds models' and knowledge's config shapes; tools, deploy read it
    "platform": PLATFORM,
    "serving": PLATFORM,  # sockets and servers: only the platform binds and serves
    "cli": CLI,
    "__main__": CLI,
}

PART_EDGES = {
    ("agents", "identity"),  # the API takes the local identity's tokens
    ("agents", "knowledge"),  # files and vector stores
    ("agents", "runs"),  # the run core's records, ledger, bus: never its engine
    ("agents", "tools"),  # tools as the APIs write them; connected agents' sub-runs
    ("dashboard", "agents"),  # the API's Authorizer and services: session, cancel, delete
    ("dashboard", "queues"),  # purge a queue, replay a poisoned message
    ("deploy", "functions"),  # an app's keys and settings
    ("deploy", "identity"),  # the environment the platform provides to the app
    ("deploy", "runs"),  # run states, for `ferry down`
    ("deploy", "settings"),
    ("functions", "queues"),  # bindings reach queues through the locator
    ("identity", "queues"),  # `ferry env`: the development account's connection string
    ("knowledge", "runs"),  # file_search is a built-in tool of the run core
    ("queues", "identity"),  # the queue service takes the local identity's tokens
    ("runs", "models"),
    ("runs", "queues"),  # azure_function calls go over queues
    ("settings", "knowledge"),  # EmbeddingsConfig
    ("settings", "models"),  # ModelConfig, Fallback
    ("tools", "identity"),  # OpenAPI tools' managed-identity auth
    ("tools", "knowledge"),  # file_search, code_interpreter's files
    ("tools", "runs"),  # the built-in tool interface
    ("tools", "settings"),  # the tool runtime is built from the settings
}

BUILT_BY_PLATFORM = {
    "ferry.runs.engine",
    "ferry.tools.runtime",
    "ferry.knowledge.ingest",
    "ferry.functions.host",
    "ferry.queues.app",
    "ferry.agents.app",
    "ferry.dashboard.app",
    "ferry.identity.endpoint",
}
"""What a process is assembled from: only its own part and the platform import these."""


@dataclass(frozen=True)
class Import:
    module: str
    line: int
    target: str


def top(module: str) -> str:
    """The top-level name under `ferry` ("ferry" for the package itself)."""
    names = module.split(".")
    return names[1] if len(names) > 1 else names[0]


def module_name(path: Path, root: Path) -> tuple[str, bool]:
    """The dotted name of a source file under `root` (the ferry package), and whether it is
    a package's `__init__`."""
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def imports_in(source: str, module: str, is_package: bool, known: set[str]) -> Iterator[Import]:
    """Every `ferry` import in the source, at any depth, resolved to a module where the
    imported name is one (`from ferry.runs import engine` → ferry.runs.engine)."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            if target == "ferry" or target.startswith("ferry."):
                yield Import(module, node.lineno, target)


def broken(edge: Import) -> str | None:
    """Why the import breaks the rule, or None."""
    source, target = top(edge.module), top(edge.target)
    if source not in LAYERS:
        return f"{edge.module} is in no layer: give `{source}` one (and a line in the docs)"
    if target not in LAYERS:
        return f"{edge.target} is in no layer: give `{target}` one (and a line in the docs)"
    if source == target:
        return None
    here, there = LAYERS[source], LAYERS[target]
    if edge.target in BUILT_BY_PLATFORM and here != PLATFORM:
        return f"only the platform builds what {edge.target} defines"
    if there > here:
        return f"{LAYER_NAMES[here]} imports {LAYER_NAMES[there]}, a higher layer"
    if there == here == PARTS and (source, target) not in PART_EDGES:
        return f"part {source} imports part {target}: no such edge in PART_EDGES"
    return None


def all_imports(root: Path) -> list[Import]:
    files = sorted(root.rglob("*.py"))
    named = [(path, *module_name(path, root)) for path in files]
    known = {name for _, name, _ in named}
    found: list[Import] = []
    for path, name, is_package in named:
        found += imports_in(path.read_text(encoding="utf-8"), name, is_package, known)
    return found


def test_every_import_follows_the_rule() -> None:
    problems = [
        f"{edge.module}:{edge.line} imports {edge.target}: {reason}"
        for edge in all_imports(ROOT)
        if (reason := broken(edge)) is not None
    ]
    assert not problems, "\n".join(problems)


def test_every_part_edge_is_used() -> None:
    """The allow-list is the code's, not a wish list: an edge no import needs goes."""
    used = {(top(e.module), top(e.target)) for e in all_imports(ROOT)}
    assert PART_EDGES - used == set()


def test_every_top_level_name_has_a_layer() -> None:
    names = {path.stem for path in ROOT.glob("*.py") if path.stem != "__init__"}
    names |= {path.parent.name for path in ROOT.glob("*/__init__.py")}
    assert names - set(LAYERS) == set()


def test_the_checker_finds_broken_imports() -> None:
    """A synthetic module breaking each rule, with imports where they hide."""
    source = """
from __future__ import annotations
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from ferry.platform.serve import Served
def later():
    from ..runs import engine
    import ferry.cli.main
from . import database
"""
    known = {"ferry.runs.engine", "ferry.store.database"}
    found = list(imports_in(source, "ferry.store.fake", False, known))
    assert sorted((e.line, e.target) for e in found) == [
        (5, "ferry.platform.serve"),
        (7, "ferry.runs.engine"),
        (8, "ferry.cli.main"),
        (9, "ferry.store.database"),
    ]
    reasons = {e.target: broken(e) for e in found}
    assert reasons["ferry.platform.serve"] == "store imports platform, a higher layer"
    assert reasons["ferry.cli.main"] == "store imports cli, a higher layer"
    assert reasons["ferry.runs.engine"] == "only the platform builds what ferry.runs.engine defines"
    assert reasons["ferry.store.database"] is None


def test_the_checker_holds_parts_to_their_edges() -> None:
    def reason(module: str, target: str) -> str | None:
        return broken(Import(module, 1, target))

    assert reason("ferry.agents.services", "ferry.runs.engine") is not None
    assert reason("ferry.runs.ledger", "ferry.agents.errors") == (
        "part runs imports part agents: no such edge in PART_EDGES"
    )
    assert reason("ferry.store.schema", "ferry.queues.store") is not None
    assert reason("ferry.queues.app", "ferry.platform.queues") is not None
    assert reason("ferry.runs.engine", "ferry.runs.ledger") is None
    assert reason("ferry.agents.services", "ferry.runs.bus") is None
    assert reason("ferry.platform.engine", "ferry.runs.engine") is None
    assert reason("ferry.cli.serve", "ferry.platform.worker") is None
    assert reason("ferry.newpart.x", "ferry.errors") is not None
