"""Import a v2-model function app and index it with the real `azure-functions` library.

The rules are the Python worker's: the app module holds exactly one `FunctionRegister`
(`FunctionApp`, possibly with blueprints), its functions are taken once with
`get_functions()`, and every Python parameter must match a binding whose converter accepts
the annotation. Anything that would make the real host skip a function, or fail it later,
stops the load here with the function, file, line and reason, never a silent
"0 functions found".
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import sys
import traceback
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from ferry.functions.errors import AppLoadError
from ferry.functions.spec import TRIGGER_TYPES, Binding, FunctionSpec, Param

__all__ = ["LoadedApp", "load_app"]

SUPPORTED_BINDINGS = frozenset({*TRIGGER_TYPES, "queue", "http"})


@dataclass
class LoadedApp:
    folder: Path
    script: Path
    functions: list[FunctionSpec]
    auth_level: str
    """The app's default HTTP auth level (a route may set its own)."""

    def function(self, name: str) -> FunctionSpec | None:
        lowered = name.lower()
        return next((f for f in self.functions if f.name.lower() == lowered), None)


def load_app(folder: Path) -> LoadedApp:
    """Import `function_app.py` (or `PYTHON_SCRIPT_FILE_NAME`) from `folder` and index it."""
    folder = folder.resolve()
    script = folder / os.environ.get("PYTHON_SCRIPT_FILE_NAME", "function_app.py")
    if not script.is_file():
        raise AppLoadError(
            f"{script.name} not found in {folder} (run `ferry start` in the app's folder, "
            "or pass --app DIR)",
            file=script,
        )
    module = _import(script, folder)
    register = _find_register(module, script)
    try:
        functions = register.get_functions()
    except Exception as exc:  # the library validates here (duplicate names, no trigger…)
        raise _located(exc, folder, fallback=script) from None
    specs = [_index(function, folder, script) for function in functions]
    seen: dict[str, FunctionSpec] = {}
    for spec in specs:
        if spec.name.lower() in seen:
            raise AppLoadError(
                "another function already has this name",
                function=spec.name,
                file=spec.file,
                line=spec.line,
            )
        seen[spec.name.lower()] = spec
    level = getattr(getattr(register, "auth_level", None), "value", "function")
    return LoadedApp(folder, script, specs, str(level).lower())


def _import(script: Path, folder: Path) -> ModuleType:
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    name = script.stem
    spec = importlib.util.spec_from_file_location(name, script)
    if spec is None or spec.loader is None:
        raise AppLoadError(f"{script.name} cannot be imported", file=script)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise _located(exc, folder, fallback=script) from None
    return module


def _located(exc: BaseException, folder: Path, *, fallback: Path) -> AppLoadError:
    """The error, placed at the deepest line of the app's own code that raised it."""
    file: str | None = str(fallback)
    line: int | None = None
    if isinstance(exc, SyntaxError) and exc.filename:
        file, line = exc.filename, exc.lineno
    else:
        for frame in traceback.extract_tb(exc.__traceback__):
            if Path(frame.filename).resolve().is_relative_to(folder):
                file, line = frame.filename, frame.lineno
    reason = f"{type(exc).__name__}: {exc}"
    function = _function_named_in(str(exc))
    return AppLoadError(reason, function=function, file=file, line=line)


def _function_named_in(message: str) -> str | None:
    marker = "Function "
    if message.startswith(marker) and ":" in message:
        return message[len(marker) :].split(":", 1)[0].strip() or None
    return None


def _find_register(module: ModuleType, script: Path) -> Any:
    from azure.functions import FunctionRegister

    found = [
        (name, value) for name, value in vars(module).items() if isinstance(value, FunctionRegister)
    ]
    if not found:
        raise AppLoadError(
            "no FunctionApp found at the top level (expected e.g. `app = func.FunctionApp()`)",
            file=script,
        )
    if len(found) > 1:
        names = ", ".join(name for name, _ in found)
        raise AppLoadError(
            f"more than one top-level FunctionApp or Blueprint instance ({names}); keep one "
            "and register blueprints on it with app.register_functions(...)",
            file=script,
        )
    return found[0][1]


def _bindings(function: Any, where: dict[str, Any]) -> list[Binding]:
    bindings = []
    for raw in function.get_raw_bindings():
        entry = json.loads(raw)
        direction = str(entry.get("direction", "IN")).lower()
        binding_type = str(entry.get("type", ""))
        name = str(entry.get("name", ""))
        if direction == "inout":
            raise AppLoadError('"inout" bindings are not supported', **where)
        if binding_type not in SUPPORTED_BINDINGS:
            raise AppLoadError(
                f"binding '{name}' has type '{binding_type}', which Ferry does not run "
                f"(supported: {', '.join(sorted(SUPPORTED_BINDINGS))})",
                **where,
            )
        bindings.append(Binding(name, binding_type, direction, entry))
    return bindings


def _index(function: Any, folder: Path, script: Path) -> FunctionSpec:
    name = function.get_function_name()
    user_function: Callable[..., Any] = function.get_user_function()
    target = inspect.unwrap(user_function)
    try:
        file = inspect.getsourcefile(target) or str(script)
        line = inspect.getsourcelines(target)[1]
    except (OSError, TypeError):
        file, line = str(script), 0
    where: dict[str, Any] = {"function": name, "file": file, "line": line}
    bindings = _bindings(function, where)
    triggers = [b for b in bindings if b.type in TRIGGER_TYPES]
    if len(triggers) != 1:
        raise AppLoadError(f"expected exactly one trigger, found {len(triggers)}", **where)
    trigger = triggers[0]
    try:
        hints = typing.get_type_hints(user_function)
    except Exception as exc:
        raise AppLoadError(f"its annotations cannot be resolved: {exc}", **where) from None
    parameters = dict(inspect.signature(user_function).parameters)
    bound = {b.name: b for b in bindings if b.name != "$return"}
    wants_context = "context" in parameters and "context" not in bound
    if wants_context:
        parameters.pop("context")
    missing = set(parameters) - set(bound)
    if missing:
        raise AppLoadError(
            f"parameters {sorted(missing)} have no binding (declare them with a decorator)",
            **where,
        )
    unused = set(bound) - set(parameters)
    if unused:
        raise AppLoadError(
            f"bindings {sorted(unused)} name no parameter of the Python function", **where
        )
    spec = FunctionSpec(
        name=name,
        func=user_function,
        file=file,
        line=line,
        trigger=trigger,
        trigger_param=_param(bound[trigger.name], hints, where),
        wants_context=wants_context,
    )
    for binding in bound.values():
        param = _param(binding, hints, where)
        if binding.direction == "out":
            spec.outputs[binding.name] = param
        elif binding is not trigger:
            spec.inputs[binding.name] = param
    returned = next((b for b in bindings if b.name == "$return"), None)
    if returned is not None:
        spec.returns = _return_param(returned, hints, where)
    if (
        trigger.type == "httpTrigger"
        and returned is None
        and not any(p.binding.type == "http" for p in spec.outputs.values())
    ):
        raise AppLoadError("an HTTP trigger needs an http output binding", **where)
    return spec


def _converter(binding_type: str) -> Any:
    from ferry.functions.conversion import converter_for

    return converter_for(binding_type)


def _is_out(annotation: Any) -> bool:
    origin = typing.get_origin(annotation) or annotation
    return isinstance(origin, type) and origin.__name__ == "Out"


def _param(binding: Binding, hints: dict[str, Any], where: dict[str, Any]) -> Param:
    annotation = hints.get(binding.name)
    is_out = _is_out(annotation)
    if binding.direction == "out" and annotation is not None and not is_out:
        raise AppLoadError(
            f"binding '{binding.name}' is an output, so its annotation must be "
            f"func.Out[...], not {annotation!r}",
            **where,
        )
    if binding.direction == "in" and is_out:
        raise AppLoadError(
            f"binding '{binding.name}' is an input but is annotated func.Out", **where
        )
    pytype = annotation
    if is_out:
        args = typing.get_args(annotation)
        if len(args) != 1:
            raise AppLoadError(f"binding '{binding.name}' has an invalid Out annotation", **where)
        pytype = args[0]
    converter = _converter(binding.type)
    implicit = bool(getattr(converter, "has_implicit_output", lambda: False)())
    kind = "generic" if pytype in (str, bytes) and not implicit else binding.type
    if pytype is not None:
        ok = _accepts(kind, converter, pytype, output=binding.direction == "out")
        if not ok:
            shown = getattr(pytype, "__name__", repr(pytype))
            raise AppLoadError(
                f"binding '{binding.name}' of type '{binding.type}' does not accept the "
                f"annotation {shown}",
                **where,
            )
    return Param(binding.name, binding, pytype, kind)


def _accepts(kind: str, converter: Any, pytype: Any, *, output: bool) -> bool:
    if kind == "generic":
        return True
    if converter is None:
        return False
    check = (
        converter.check_output_type_annotation if output else converter.check_input_type_annotation
    )
    try:
        return bool(check(pytype))
    except TypeError:  # a non-class annotation such as a bare Union
        return False


def _return_param(binding: Binding, hints: dict[str, Any], where: dict[str, Any]) -> Param:
    annotation = hints.get("return")
    if annotation is not None and _is_out(annotation):
        raise AppLoadError("the return annotation must not be func.Out", **where)
    kind = "generic" if annotation in (str, bytes) and binding.type != "http" else binding.type
    checked = annotation is not None and annotation is not type(None) and kind != "generic"
    if checked and not _accepts(kind, _converter(binding.type), annotation, output=True):
        shown = getattr(annotation, "__name__", repr(annotation))
        raise AppLoadError(
            f"the return annotation {shown} does not match the '{binding.type}' output binding",
            **where,
        )
    return Param("$return", binding, annotation, kind)
