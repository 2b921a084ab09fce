"""The Flask application: thin blueprints over the engine's services."""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app, request, session
from flask_babel import Babel, get_locale
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.exceptions import Forbidden as HTTPForbidden
from werkzeug.exceptions import NotFound as HTTPNotFound
from werkzeug.middleware.proxy_fix import ProxyFix

from engine import Forbidden, Gridflow, InvalidField, NotFound, Settings, SystemClock, parse_working_hours


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Configuration comes from the environment, then instance/config.py, then test_config."""
    instance_path = (test_config or {}).get("INSTANCE_PATH") or os.environ.get("GRIDFLOW_INSTANCE")
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(
        DATABASE_URL=os.environ.get("DATABASE_URL") or f"sqlite:///{Path(app.instance_path) / 'gridflow.db'}",
        TIMEZONE=os.environ.get("GRIDFLOW_TIMEZONE", "Asia/Shanghai"),
        WORKING_HOURS=os.environ.get("GRIDFLOW_WORKING_HOURS", "08:30-12:00,13:30-17:30"),
        TIMER_SWEEP_SECONDS=float(os.environ.get("GRIDFLOW_TIMER_SWEEP_SECONDS", "60")),
        SECRET_KEY=os.environ.get("SECRET_KEY"),
        API_TOKEN_MAX_AGE=12 * 3600,
        MAX_CONTENT_LENGTH=40 * 1024 * 1024,  # six photos of 5 MB and the form around them
        PHOTO_DIR=os.environ.get("GRIDFLOW_PHOTO_DIR"),
        WORKFLOW_CACHE_SIZE=int(os.environ.get("GRIDFLOW_WORKFLOW_CACHE_SIZE", "1000")),
        SAMPLING_COUNT=int(os.environ.get("GRIDFLOW_SAMPLING_COUNT", "11")),
        SCRIPT_TIME_LIMIT=float(os.environ.get("GRIDFLOW_SCRIPT_TIME_LIMIT", "1")),
        NEAREST_COMPONENT_M=float(os.environ.get("GRIDFLOW_NEAREST_COMPONENT_M", "30")),
        TRUSTED_PROXIES=int(os.environ.get("GRIDFLOW_TRUSTED_PROXIES", "0")),
        MAP_TILES=os.environ.get("GRIDFLOW_MAP_TILES", ""),  # an XYZ URL template; none: a plain background
        MAP_ATTRIBUTION=os.environ.get("GRIDFLOW_MAP_ATTRIBUTION", ""),
        JSON_AS_ASCII=False,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        # Behind HTTPS (GRIDFLOW_SECURE_COOKIES=1) the session cookie is never sent in clear.
        SESSION_COOKIE_SECURE=_secure_cookies(),
        PREFERRED_URL_SCHEME="https" if _secure_cookies() else "http",
        # A form's token lasts a working day, as an API token does: a handler opens a task in
        # the morning and submits after the site visit. Flask-WTF's hour lost such answers.
        WTF_CSRF_TIME_LIMIT=12 * 3600,
    )
    app.config.from_pyfile("config.py", silent=True)
    if test_config:
        app.config.from_mapping(test_config)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    if app.config["TRUSTED_PROXIES"]:
        # Behind a reverse proxy the connection's address is the proxy's: login throttling needs
        # the client's, and links need the scheme and host the client used.
        proxies = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)  # type: ignore[method-assign]

    gridflow = Gridflow(
        Settings(
            database_url=app.config["DATABASE_URL"],
            timezone=app.config["TIMEZONE"],
            working_hours=parse_working_hours(app.config["WORKING_HOURS"]),
            timer_sweep_seconds=app.config["TIMER_SWEEP_SECONDS"],
            photo_dir=Path(app.config["PHOTO_DIR"]) if app.config["PHOTO_DIR"] else None,
            workflow_cache_size=app.config["WORKFLOW_CACHE_SIZE"],
            sampling_count=app.config["SAMPLING_COUNT"],
            script_time_limit=app.config["SCRIPT_TIME_LIMIT"],
            nearest_component_m=app.config["NEAREST_COMPONENT_M"],
            clock=app.config.get("CLOCK") or SystemClock(),
        )
    )
    app.extensions["gridflow"] = gridflow

    from . import admin, admin_map, admin_reference, api, assessment, auth, cases, inbox, open311, pages, sampling

    # Pages post forms with a session cookie: CSRF tokens on every form. The API authenticates
    # each call with a Bearer token and no cookie, so it has nothing to forge.
    csrf = CSRFProtect(app)
    csrf.exempt(api.bp)
    csrf.exempt(open311.bp)  # machine clients with an API key, no cookie
    # Chinese is the source language of every string; other languages come from catalogues.
    Babel(app, locale_selector=_language)
    app.context_processor(lambda: {"page_language": str(get_locale())})
    app.register_blueprint(api.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(inbox.bp)
    app.register_blueprint(cases.bp)
    app.register_blueprint(assessment.bp)
    app.register_blueprint(sampling.bp)
    app.register_blueprint(open311.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(admin_reference.bp)
    from . import map as map_pages  # 一张图

    app.register_blueprint(map_pages.bp)
    app.register_blueprint(admin_map.bp)
    app.register_error_handler(HTTPException, api.http_error)
    app.before_request(pages.refuse_unstorable_text)
    app.after_request(_security_headers)
    app.register_error_handler(InvalidField, _refused_field)
    # The pages' answer to the engine saying no; the API's blueprint answers in JSON instead.
    app.register_error_handler(Forbidden, lambda error: pages.error_page(HTTPForbidden()))
    app.register_error_handler(NotFound, lambda error: api.http_error(HTTPNotFound()))
    return app


def _secure_cookies() -> bool:
    return os.environ.get("GRIDFLOW_SECURE_COOKIES", "").strip().lower() in ("1", "true", "yes", "on")


# Every answer, page, API or static file: scripts only from this site's own files (no inline
# script, no handler attribute, no eval), no plugins, no framing, forms post only here.
# Styles may be inline: dmn-js sets style attributes and its cell editor (CodeMirror) writes
# <style> elements; what a style could fetch (images, fonts) still comes only from here or
# data: URLs (bpmn-js's icons and fonts). A response that brings its own policy (a diagram
# file's sandbox) keeps it.
SECURITY_HEADERS = {
    "Content-Security-Policy": "; ".join((
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    )),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        if name == "Content-Security-Policy" and current_app.config.get("MAP_TILES"):
            value = value.replace("img-src 'self'", f"img-src 'self' {tile_source(current_app.config['MAP_TILES'])}")
        response.headers.setdefault(name, value)
    return response


def tile_source(template: str) -> str:
    """The CSP source of a tile server's XYZ template: its scheme and host, a {s} subdomain
    label (天地图's t{s}.tianditu.gov.cn) widened to *."""
    scheme, _, rest = template.partition("://")
    host = rest.split("/", 1)[0]
    if "{" in host:
        host = "*." + host.split(".", 1)[1] if "." in host else "*"
    return f"{scheme}://{host}"


def _refused_field(error: InvalidField) -> Any:
    """A field refused where no blueprint answers for itself (the door's check of every request,
    a path no route serves): under /api the API's JSON, under /open311 the standard's error list,
    else a page. A page's own forms show a bad field beside it; what reaches here is a hand-made
    request, and what it said is echoed only through the page's escaping template."""
    from . import api, open311, pages

    if request.path.startswith(api.bp.url_prefix or "/api"):
        return api.engine_error(error)
    if request.path.startswith(open311.bp.url_prefix or "/open311"):
        return open311.http_error(BadRequest(f"{error.field}: {error.reason}"))
    return pages.error_page(BadRequest(), refused=error)


def _language() -> str:
    return str(session.get("language") or request.accept_languages.best_match(["zh", "en"]) or "zh")


def _instance_secret(instance: Path) -> str:
    """A secret kept beside the database, so that restarts and several processes on one machine
    accept each other's tokens. Set SECRET_KEY when processes run on several machines."""
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
