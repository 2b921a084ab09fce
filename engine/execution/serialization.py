"""Turning specs and workflow state into JSON and back.

A process spec is stored once per ProcessVersion; a case stores only its workflow state and is
restored onto the already parsed spec. Rebuilding the spec is most of what loading a whole
serialized workflow costs, and it is most of the bytes.
"""
from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.migration.version_migration import MIGRATIONS
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

from .specs import Specs
from .timers import CLOCKED_TIMERS


class _SpeclessWorkflowConverter(BpmnWorkflowConverter):
    """BpmnWorkflowConverter without the spec: to_dict leaves it out, from_dict takes it."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any], specs: Specs | None = None) -> BpmnWorkflow:  # type: ignore[override]
        if specs is None:
            raise ValueError("a workflow state is restored onto its spec; none was given")
        spec, subprocess_specs = specs
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


class WorkflowCodec:
    VERSION_KEY = BpmnWorkflowSerializer.VERSION_KEY

    def __init__(self) -> None:
        config = dict(SPIFF_CONFIG)
        config[BpmnWorkflow] = _SpeclessWorkflowConverter
        for spiff_class, clocked_class in CLOCKED_TIMERS.items():
            config[clocked_class] = config[spiff_class]
        self._registry = BpmnWorkflowSerializer.configure(config)
        self._serializer = BpmnWorkflowSerializer(self._registry)

    def specs_to_json(self, specs: Specs) -> str:
        spec, subprocess_specs = specs
        return json.dumps(
            {
                "spec": self._registry.convert(spec),
                "subprocess_specs": {name: self._registry.convert(s) for name, s in subprocess_specs.items()},
            },
            ensure_ascii=False,
            sort_keys=True,
        )

    def specs_from_json(self, text: str) -> Specs:
        dct = json.loads(text)
        return (
            self._registry.restore(dct["spec"]),
            {name: self._registry.restore(s) for name, s in dct["subprocess_specs"].items()},
        )

    def state_to_json(self, workflow: BpmnWorkflow) -> str:
        dct = self._serializer.to_dict(workflow)
        dct[self.VERSION_KEY] = self._serializer.VERSION
        return json.dumps(dct, ensure_ascii=False, cls=self._serializer._encoder_cls)

    def state_from_json(self, text: str, specs: Specs, script_engine: PythonScriptEngine) -> BpmnWorkflow:
        dct = json.loads(text)
        version = dct.pop(self.VERSION_KEY, None)
        if version in MIGRATIONS:
            MIGRATIONS[version](dct)
        workflow: BpmnWorkflow = self._registry.restore(dct, specs=specs)
        workflow.script_engine = script_engine
        return workflow
