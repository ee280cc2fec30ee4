"""Files the pages load: plotly.js from the installed plotly package (no CDN, no npm), and the favicon."""
import importlib.util
from functools import cache
from pathlib import Path

from flask import Blueprint, abort, current_app, send_file

assets_bp = Blueprint("assets", __name__)
CACHE_SECONDS = 7 * 24 * 3600


@cache
def plotly_js_path() -> Path | None:
    """plotly.min.js as shipped inside the plotly Python package (found without importing plotly)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"
    return path if path.is_file() else None


@assets_bp.get("/vendor/plotly.min.js")
def plotly_js():
    """The plotly.js bundle that draws the charts."""
    path = plotly_js_path()
    if path is None:
        abort(404, description="plotly.js is not installed: pip install the plotly version in requirements.txt")
    return send_file(path, mimetype="text/javascript", max_age=CACHE_SECONDS)


@assets_bp.get("/favicon.ico")
def favicon():
    """The site icon (browsers ask for it on every page)."""
    return send_file(Path(current_app.static_folder) / "favicon.ico", mimetype="image/x-icon", max_age=CACHE_SECONDS)
