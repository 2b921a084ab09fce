"""The JSON API under /api: every call but login and health needs a Bearer token. Each body and
answer is one pydantic model (requests.py, answers.py) that spectree checks requests against and
that the OpenAPI document (document.py) is generated from; the routes are grouped by what they
serve (session.py, cases.py, definitions.py) on one blueprint (blueprint.py)."""
from __future__ import annotations

from . import cases, definitions, map, session  # noqa: F401  (each registers its routes on the blueprint)
from .blueprint import bp, engine_error, http_error
from .definitions import deploy_files, version_arg
from .requests import ROW_ID

__all__ = ["ROW_ID", "bp", "deploy_files", "engine_error", "http_error", "version_arg"]
