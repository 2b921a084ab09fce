"""A parsed process: its spec and the specs of the subprocesses it calls, as the parser gives them."""
from __future__ import annotations

from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec

Specs = tuple[BpmnProcessSpec, dict[str, BpmnProcessSpec]]
