"""The planner web UI at `/ui/`: static HTML/CSS/ES modules from `serving/ui/`, and plotly.js from the
installed `plotly` package (never copied into the repository), so the pages work without internet access.

The UI needs no key to load: it asks the planner for one and sends it with every API call it makes.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, RedirectResponse, Response

from serving.problems import ApiProblem

UI_DIR = Path(__file__).resolve().parent.parent / "ui"
PLOTLY_ASSET = ("package_data", "plotly.min.js")

# Only these kinds of file are served; anything else under serving/ui/ (or outside it) is a 404.
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}

# Everything comes from this origin; plotly writes inline styles, so styles may be inline, scripts not.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# Our own files change with the code: revalidate each time (they are small). plotly.js changes only
# with the installed package, so the browser may keep it for a day.
OWN_CACHE = "no-cache"
VENDOR_CACHE = "public, max-age=86400"

router = APIRouter(prefix="/ui", include_in_schema=False)

AssetPath = Annotated[str, PathParam(max_length=200)]


@lru_cache(maxsize=1)
def plotly_js_path() -> Path:
    """plotly.min.js of the installed `plotly` Python package."""
    path = Path(str(files("plotly").joinpath(*PLOTLY_ASSET)))
    if not path.is_file():  # a broken plotly install: say so instead of serving an empty chart library
        raise FileNotFoundError(f"plotly.js not found at {path}")
    return path


def ui_file(relative: str) -> Path | None:
    """The file under serving/ui/ named by `relative`, or None if it is not a servable file there."""
    if not relative or "\\" in relative or "\x00" in relative:
        return None
    candidate = (UI_DIR / relative).resolve()
    if not candidate.is_relative_to(UI_DIR) or candidate.suffix not in MEDIA_TYPES or not candidate.is_file():
        return None
    return candidate


def _not_found(what: str) -> ApiProblem:
    return ApiProblem(404, f"No UI file {what}.", slug="not-found")


@router.get("", include_in_schema=False)
def ui_root_redirect() -> RedirectResponse:
    """/ui → /ui/ (relative module paths in index.html need the trailing slash)."""
    return RedirectResponse("/ui/", status_code=308)


@router.get("/", include_in_schema=False)
def ui_index() -> FileResponse:
    """The single page of the UI."""
    return _file(UI_DIR / "index.html", OWN_CACHE)


@router.get("/vendor/plotly.min.js", include_in_schema=False)
def plotly_js() -> FileResponse:
    """plotly.js, read from the installed plotly package."""
    return _file(plotly_js_path(), VENDOR_CACHE)


@router.get("/{asset:path}", include_in_schema=False)
def ui_asset(asset: AssetPath) -> Response:
    """A static file of the UI (HTML, CSS, JS modules, icons)."""
    path = ui_file(asset)
    if path is None:
        raise _not_found(asset[:80])
    return _file(path, OWN_CACHE)


def _file(path: Path, cache: str) -> FileResponse:
    headers = {**SECURITY_HEADERS, "Cache-Control": cache}
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=headers)
