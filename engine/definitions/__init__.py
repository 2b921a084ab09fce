"""Process definitions: every deployed BPMN and DMN file version, the checks a deploy must pass,
what a diagram says (its forms, expressions, timers), and what changed between two versions."""
from __future__ import annotations

from .diff import VersionComparison
from .forms import FormField, answers, clean_submission, parse_form
from .repository import DefinitionRepository, Upload

__all__ = [
    "DefinitionRepository",
    "FormField",
    "Upload",
    "VersionComparison",
    "answers",
    "clean_submission",
    "parse_form",
]
