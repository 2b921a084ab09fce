"""Workflows kept in memory between commands, so that a busy case is not restored from JSON
for every step.

A workflow is trusted only for the case version it was saved at: the case row's version is
read inside every command's transaction, and a write by another thread or process bumps it,
so a stale workflow is never used - it is simply restored from the database again. A command
takes the workflow out while it works on it and puts it back only after its transaction
committed, so a command that fails leaves nothing half-changed behind.
"""
from __future__ import annotations

from collections import OrderedDict
from threading import Lock

from SpiffWorkflow.bpmn import BpmnWorkflow


class WorkflowCache:
    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = Lock()
        self._workflows: OrderedDict[int, tuple[int, BpmnWorkflow]] = OrderedDict()

    def take(self, case_id: int, version: int) -> BpmnWorkflow | None:
        """The case's workflow as saved at this version, removed from the cache; None if absent or stale."""
        with self._lock:
            kept = self._workflows.pop(case_id, None)
        if kept is None or kept[0] != version:
            return None
        return kept[1]

    def keep(self, case_id: int, version: int, workflow: BpmnWorkflow) -> None:
        """After commit: the workflow as the case now stands at this version."""
        if self._size <= 0:
            return
        with self._lock:
            self._workflows[case_id] = (version, workflow)
            self._workflows.move_to_end(case_id)
            while len(self._workflows) > self._size:
                self._workflows.popitem(last=False)

    def __len__(self) -> int:
        return len(self._workflows)
