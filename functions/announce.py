"""Blueprint placeholder: filled by its issue."""

import azure.functions as func

bp = func.Blueprint()
