"""Azure Functions entry point (Python v2 programming model). Thin on purpose.

Every trigger lives in a Blueprint under ``functions/``; the HTTP side is one
ASGI app (FastAPI: interactions + dashboard API) loaded on its first request,
so a cold instance pays only for ``azure.functions`` before it can answer.
"""

import azure.functions as func

from functions import announce, followups, ingest, timers
from functions.http import lazy_asgi_app

app = func.AsgiFunctionApp(app=lazy_asgi_app, http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(ingest.bp)
app.register_functions(announce.bp)
app.register_functions(followups.bp)
app.register_functions(timers.bp)
