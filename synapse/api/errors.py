"""The one place Synapse errors become HTTP responses: ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from synapse import errors as e
from synapse.db.uow import InvalidValue, invalid_value_reason

log = logging.getLogger(__name__)

STATUS: dict[type[e.SynapseError], int] = {
    e.ValidationFailed: 422,
    e.EnvelopeError: 400,
    e.NotFound: 404,
    e.Conflict: 409,
    e.Unauthorized: 401,
    e.Forbidden: 403,
    e.InsufficientBalance: 409,
    e.LedgerDrift: 500,
    e.RateLimited: 503,
    e.DiscordError: 502,
    e.StorageError: 503,
    e.ConfigError: 500,
}


def status_for(exc: e.SynapseError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]  # type: ignore[index]
    return 500


def body(code: str, message: str, details: object = None) -> dict[str, object]:
    return {"error": {"code": code, "message": message, "details": details if details is not None else []}}


def install(app: FastAPI) -> None:
    @app.exception_handler(e.SynapseError)
    async def _synapse(request: Request, exc: e.SynapseError) -> JSONResponse:
        status = status_for(exc)
        if status >= 500:
            log.error("request failed", extra={"path": request.url.path, "code": exc.code, "error": exc.message})
        message = exc.message + (f" ({exc.hint})" if exc.hint else "")
        return JSONResponse(body(exc.code, message, exc.details()), status_code=status)

    @app.exception_handler(InvalidValue)
    async def _data(request: Request, exc: InvalidValue) -> JSONResponse:
        # PostgreSQL refused a value the models let through (e.g. a NUL byte in text): bad input, not a crash.
        return JSONResponse(body("validation_failed", f"invalid value: {invalid_value_reason(exc)}"),
                            status_code=422)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"path": ".".join(str(p) for p in err.get("loc", ())), "message": err.get("msg", "")}
                   for err in exc.errors()]
        return JSONResponse(body("validation_failed", "invalid request", details), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}.get(
            exc.status_code, "http_error")
        return JSONResponse(body(code, str(exc.detail)), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))
