"""系统管理: process definitions, the BPMN modeler and DMN editor, deploying new versions."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
