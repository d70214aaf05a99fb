"""The local runner: the Azure Functions app's own functions, run without the Functions host.

``synapse dev`` serves the HTTP app, polls every queue-triggered function's queue
against Azurite with the host's dequeue-count and poison semantics (``host.json``),
and fires timer functions on their NCRONTAB schedules. Functions are discovered
from ``function_app.app.get_functions()``, so a new Blueprint needs no runner change.
"""
