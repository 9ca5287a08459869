"""The console's routes put together: the pages (case_routes.py, admin_routes.py), the static
files, the error pages, /healthz, and the same-origin check on every state-changing request."""

from urllib.parse import urlsplit

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from services.console import admin_routes, case_routes, pages, service
from services.console.exceptions import ConsoleError, UpstreamUnavailable
from services.console.service import Session


class SameOrigin:
    """Every state-changing request must come from the console's own pages (issue 35.9): an
    `Origin` (or, without one, a `Referer`) of another scheme, host or port is refused with 403.
    SameSite alone does not do it: it ignores ports, so any page on another port of the host was
    "same-site". A request with neither header (a script, not a browser page) is let through; the
    session cookie still has to come with it."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") in ("POST", "PUT", "PATCH", "DELETE"):
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers") or []}
            claimed = headers.get("origin") or _origin_of(headers.get("referer", ""))
            if claimed and claimed != _own_origin(scope, headers):
                refusal = JSONResponse({"detail": "cross-origin request refused"}, status_code=403)
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def _own_origin(scope: Scope, headers: dict[str, str]) -> str:
    scheme = headers.get("x-forwarded-proto") or scope.get("scheme", "http")
    host = headers.get("x-forwarded-host") or headers.get("host", "")
    return f"{scheme}://{host}"


def install_routes(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=pages.HERE / "static"), name="static")
    app.include_router(case_routes.router)
    app.include_router(admin_routes.router)
    app.include_router(admin_routes.api_router)

    @app.exception_handler(pages.SignInRequired)
    async def sign_in_first(request: Request, exc: pages.SignInRequired) -> Response:
        if request.headers.get("hx-request") == "true":
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(ConsoleError)
    async def console_error(request: Request, exc: ConsoleError) -> Response:
        try:
            session: Session | None = pages.signed_in(request)
        except pages.SignInRequired:
            session = None
        message = str(exc.detail)
        if isinstance(exc, UpstreamUnavailable):
            message = f"暂时无法取得数据（{exc.detail}），请稍后刷新。"
        response = pages.render(request, "error.html", session, message=message)
        response.status_code = exc.status_code
        return response

    @app.get("/healthz", tags=["ops"])
    async def healthz(request: Request) -> JSONResponse:
        try:
            await to_thread.run_sync(service.database_answers)
        except Exception as error:
            return JSONResponse({"status": "unavailable", "database": str(error)}, status_code=503)
        return JSONResponse({"status": "ok", "service": "console"})
