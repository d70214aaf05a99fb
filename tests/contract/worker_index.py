"""Index a Functions app with the real Azure Functions Python worker's own code (run in .venv-worker).

Usage: ``.venv-worker/bin/python tests/contract/worker_index.py APP_DIR`` prints JSON:
``{"functions": [{"name", "script_file", "bindings": [raw binding dicts]}]}`` or ``{"error": "..."}``.

It calls what the worker calls on its init request: ``handle_event.load_binding_registry`` and
``handle_event.index_functions`` — ``loader.index_function_app`` (imports ``function_app.py``,
finds the one ``FunctionRegister``) then ``loader.process_indexed_function``, which runs
``Registry.add_indexed_function`` — the checks
that make the host refuse an app: every binding name is a parameter and every parameter a binding,
annotations match binding types, no ``inout``, ``$return`` is ``out``. The only stand-in is the
host's protobuf message classes (plain records here, with the proto enums' integer values).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any


class _Record:
    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)


class _BindingInfo(_Record):
    # FunctionRpc.proto: BindingInfo.Direction {in = 0; out = 1; inout = 2}, DataType {undefined = 0; …}
    in_ = 0
    out = 1
    inout = 2
    undefined = 0
    string = 1
    binary = 2
    stream = 3


PROTOS = SimpleNamespace(BindingInfo=_BindingInfo, RpcFunctionMetadata=_Record, RpcRetryOptions=_Record)


def main(app_dir: str) -> dict[str, Any]:
    root = Path(app_dir).resolve()
    sys.path.insert(0, str(root))
    from azure_functions_runtime import handle_event

    handle_event.protos = PROTOS   # what the host hands the worker at start-up
    try:
        handle_event.load_binding_registry()
        metadata = handle_event.index_functions(str(root / "function_app.py"), str(root))
    except Exception as exc:  # the worker reports these to the host, which then refuses the app
        return {"error": f"{type(exc).__name__}: {exc}"}
    return {"functions": [{"name": m.name, "script_file": m.script_file,
                           "bindings": [json.loads(b) for b in m.raw_bindings]} for m in metadata]}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
