"""The functions host: Azure Functions Python apps (v2 model) run unchanged.

`loader` indexes the app with the real `azure-functions` library, `invoker` calls a function
with its bindings converted by that library's own converters, `triggers/` hold what starts an
invocation (queue, HTTP, timer) and `endpoints/` the queue services a trigger or output
binding talks to (Ferry's own store in process, or any Azure-protocol service over HTTP).
"""

from __future__ import annotations
