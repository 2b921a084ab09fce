"""What changed between two versions of a process: elements added, removed and changed (name,
lane, properties with forms, timers, scripts, conditions, flows in and out, decision table rules).

Elements are aligned with SpiffWorkflow's own SpecDiff (SpiffWorkflow.bpmn.util.diff): by BPMN
id first, then, for an id that is gone, by its place between aligned neighbours (a renamed task
in the same spot is "changed", with its old id). The same alignment is what case migration uses
to move a running case's tasks onto the new version, so the diff an administrator reads is the
one a migration acts on.

SpecDiff compares task specs in their serialized form. The stored JSON of each ProcessVersion
is exactly that form, so it is read from there rather than serialized again; flows are named by
the elements they connect (the parser keeps no sequence flow ids), and the engine's inner specs
(start, end join, the split and join around an activity with boundary events) are folded into
the elements they belong to."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.util.diff import SpecDiff
from SpiffWorkflow.specs.base import TaskSpec

from ..execution import Specs
from ..storage import ProcessVersion

SPLIT = ".BoundaryEventSplit"
JOIN = ".BoundaryEventJoin"
# Keys of a serialized task spec compared one by one below, or that say nothing of their own
# (`name` is the id again, `description` the type in words).
_DETAILED = {
    "name", "bpmn_id", "typename", "description", "bpmn_name", "lane", "extensions", "event_definition",
    "script", "prescript", "postscript", "cond_task_specs", "default_task_spec", "inputs", "outputs",
    "decision_table",
}


class StoredSpecs:
    """SpecDiff's registry: the serialized form of each task spec of the versions compared, as
    stored with them. Only `convert` is asked for."""

    def __init__(self) -> None:
        self._stored: dict[TaskSpec, dict[str, Any]] = {}

    def add(self, specs: Specs, stored_json: str) -> None:
        stored = json.loads(stored_json)
        spec, subprocess_specs = specs
        for process_spec, dct in [(spec, stored["spec"])] + [
            (subprocess_specs[name], stored["subprocess_specs"][name]) for name in subprocess_specs
        ]:
            for name, task_spec in process_spec.task_specs.items():
                self._stored[task_spec] = dct["task_specs"][name]

    def convert(self, task_spec: TaskSpec) -> dict[str, Any]:
        return self._stored[task_spec]


@dataclass
class VersionComparison:
    """Two versions of one process, aligned: the top-level spec and each called subprocess."""

    old: ProcessVersion
    new: ProcessVersion
    old_specs: Specs
    new_specs: Specs
    registry: StoredSpecs
    top: SpecDiff
    subprocesses: dict[str, SpecDiff | None]  # by subprocess spec name; None: gone in the new version

    def report(self) -> dict[str, Any]:
        """The diff as the API answers it."""
        added: list[dict[str, Any]] = []
        removed: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        pairs: list[tuple[BpmnProcessSpec, BpmnProcessSpec | None, SpecDiff | None]] = [
            (self.old_specs[0], self.new_specs[0], self.top)
        ] + [(self.old_specs[1][n], self.new_specs[1].get(n), d) for n, d in self.subprocesses.items()]
        for old_spec, new_spec, spec_diff in pairs:
            process = old_spec.name
            old_all = {n: self.registry.convert(t) for n, t in old_spec.task_specs.items()}
            if new_spec is None or spec_diff is None:
                removed += [_summary(process, d) for d in old_all.values() if d.get("bpmn_id")]
                continue
            new_all = {n: self.registry.convert(t) for n, t in new_spec.task_specs.items()}
            for task_spec in old_spec.task_specs.values():
                old_d = old_all[task_spec.name]
                if not old_d.get("bpmn_id"):
                    continue
                # SpecDiff aligns what it reaches from the start; anything else by its id.
                counterpart = spec_diff.alignment.get(task_spec, new_spec.task_specs.get(task_spec.name))
                if counterpart is None:
                    removed.append(_summary(process, old_d))
                    continue
                new_d = new_all[counterpart.name]
                changes = _changes(old_d, new_d, old_all, new_all)
                if changes:
                    changed.append(_summary(process, new_d) | {"changes": changes})
            aligned = {t.name for t in spec_diff.alignment.values() if t is not None}
            added += [
                _summary(process, new_all[t.name])
                for t in new_spec.task_specs.values()
                if new_all[t.name].get("bpmn_id") and t.name not in aligned and t.name not in old_spec.task_specs
            ]
        for name in self.new_specs[1]:
            if name not in self.old_specs[1]:
                new_all = {n: self.registry.convert(t) for n, t in self.new_specs[1][name].task_specs.items()}
                added += [_summary(name, d) for d in new_all.values() if d.get("bpmn_id")]
        return {
            "process_id": self.new.process_id,
            "from": _version(self.old),
            "to": _version(self.new),
            "added": added,
            "removed": removed,
            "changed": changed,
        }


def compare(old: ProcessVersion, old_specs: Specs, new: ProcessVersion, new_specs: Specs) -> VersionComparison:
    """Align two stored versions of a process (the ProcessVersion rows with their spec loaded)."""
    registry = StoredSpecs()
    registry.add(old_specs, old.spec)
    registry.add(new_specs, new.spec)
    subprocesses = {
        name: SpecDiff(registry, spec, new_specs[1][name]) if name in new_specs[1] else None
        for name, spec in old_specs[1].items()
    }
    return VersionComparison(
        old=old,
        new=new,
        old_specs=old_specs,
        new_specs=new_specs,
        registry=registry,
        top=SpecDiff(registry, old_specs[0], new_specs[0]),
        subprocesses=subprocesses,
    )


# --- one element's changes ---------------------------------------------------------------------

def _changes(
    old: dict[str, Any], new: dict[str, Any], old_all: dict[str, dict[str, Any]], new_all: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    changes: list[dict[str, Any]] = []

    def note(what: str, before: Any, after: Any) -> None:
        if before != after:
            changes.append({"what": what, "from": before, "to": after})

    note("id", old["bpmn_id"], new["bpmn_id"])
    note("type", old["typename"], new["typename"])
    note("name", old.get("bpmn_name"), new.get("bpmn_name"))
    note("lane", old.get("lane"), new.get("lane"))
    old_extensions, new_extensions = old.get("extensions") or {}, new.get("extensions") or {}
    old_properties, new_properties = old_extensions.get("properties") or {}, new_extensions.get("properties") or {}
    for key in sorted(old_properties.keys() | new_properties.keys()):
        note(f"property {key}", old_properties.get(key), new_properties.get(key))
    for key in sorted((old_extensions.keys() | new_extensions.keys()) - {"properties"}):
        note(f"extension {key}", old_extensions.get(key), new_extensions.get(key))
    old_event, new_event = old.get("event_definition"), new.get("event_definition")
    if _is_timer(old_event) and _is_timer(new_event):
        note("timer kind", old_event["typename"], new_event["typename"])  # type: ignore[index]
        note("timer", old_event.get("expression"), new_event.get("expression"))  # type: ignore[union-attr]
    else:
        note("event", old_event, new_event)
    for key in ("script", "prescript", "postscript"):
        note(key, old.get(key), new.get(key))
    old_conditions, new_conditions = _conditions(old, old_all), _conditions(new, new_all)
    for target in sorted(old_conditions.keys() | new_conditions.keys()):
        note(f"condition towards {target}", old_conditions.get(target), new_conditions.get(target))
    old_default, new_default = old.get("default_task_spec"), new.get("default_task_spec")
    note("default flow", _element(old_default, old_all), _element(new_default, new_all))
    note("attached to", _attached_to(old), _attached_to(new))
    note("incoming", _incoming(old, old_all), _incoming(new, new_all))
    note("outgoing", _outgoing(old, old_all), _outgoing(new, new_all))
    changes += _table_changes(old.get("decision_table"), new.get("decision_table"))
    for key in sorted((old.keys() | new.keys()) - _DETAILED):
        note(key, old.get(key), new.get(key))
    return changes


def _is_timer(event: Any) -> bool:
    return isinstance(event, dict) and str(event.get("typename", "")).endswith("TimerEventDefinition")


def _conditions(spec: dict[str, Any], every: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A gateway's conditions by the element each flow leads to (a list when two flows lead there)."""
    found: dict[str, list[str | None]] = {}
    for flow in spec.get("cond_task_specs") or []:
        found.setdefault(str(_element(flow["task_spec"], every)), []).append(flow.get("condition"))
    return {target: conditions[0] if len(conditions) == 1 else conditions for target, conditions in found.items()}


def _element(name: str | None, every: dict[str, dict[str, Any]]) -> str | None:
    """The diagram element an inner spec name stands for: an activity for its boundary split."""
    if name is None:
        return None
    if name.endswith(SPLIT):
        return name.removesuffix(SPLIT)
    bpmn_id = every.get(name, {}).get("bpmn_id")
    return str(bpmn_id) if bpmn_id else None


def _attached_to(spec: dict[str, Any]) -> str | None:
    """The activity a boundary event sits on: the split before it that is not its own."""
    for name in spec.get("inputs") or []:
        if name.endswith(SPLIT) and name != f"{spec['name']}{SPLIT}":
            return str(name.removesuffix(SPLIT))
    return None


def _incoming(spec: dict[str, Any], every: dict[str, dict[str, Any]]) -> list[str]:
    found: set[str] = set()
    for name in spec.get("inputs") or []:
        if name == f"{spec['name']}{SPLIT}":  # an activity with boundary events: what leads to its split
            found |= {e for e in (_element(n, every) for n in every[name].get("inputs") or []) if e}
        elif not name.endswith(SPLIT):  # another activity's split: this is a boundary event on it
            element = _element(name, every)
            if element:
                found.add(element)
    return sorted(found)


def _outgoing(spec: dict[str, Any], every: dict[str, dict[str, Any]]) -> list[str]:
    return sorted({e for e in (_element(n, every) for n in spec.get("outputs") or [] if not n.endswith(JOIN)) if e})


def _table_changes(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Decision table rules by id: added, removed or changed (the row order separately, so a
    row inserted at the top does not show every row below it as changed)."""
    if old is None or new is None:
        return [] if old is new else [{"what": "decision table", "from": _table_id(old), "to": _table_id(new)}]
    where = f"decision table {new['id']}"
    changes: list[dict[str, Any]] = []

    def note(what: str, before: Any, after: Any) -> None:
        if before != after:
            changes.append({"what": what, "from": before, "to": after})

    note("decision table", old["id"], new["id"])
    note(f"{where} hit policy", old.get("hit_policy"), new.get("hit_policy"))
    note(f"{where} inputs", [i.get("expression") for i in old["inputs"]], [i.get("expression") for i in new["inputs"]])
    note(f"{where} outputs", [o.get("name") for o in old["outputs"]], [o.get("name") for o in new["outputs"]])
    old_rules = {r["id"]: _rule(r, old) for r in old["rules"]}
    new_rules = {r["id"]: _rule(r, new) for r in new["rules"]}
    for rule_id in list(old_rules) + [r for r in new_rules if r not in old_rules]:
        note(f"{where} rule {rule_id}", old_rules.get(rule_id), new_rules.get(rule_id))
    note(f"{where} rule order", [r for r in old_rules if r in new_rules], [r for r in new_rules if r in old_rules])
    return changes


def _rule(rule: dict[str, Any], table: dict[str, Any]) -> dict[str, Any]:
    inputs = {i["id"]: i.get("expression") or i.get("label") or i["id"] for i in table["inputs"]}
    outputs = {o["id"]: o.get("name") or o["id"] for o in table["outputs"]}
    return {
        "description": rule.get("description"),
        "when": {
            str(inputs.get(e["input_id"], e["input_id"])): ", ".join(t for t in e.get("lhs") or [] if t) or "-"
            for e in rule.get("input_entries") or []
        },
        "then": {
            str(outputs.get(e["output_id"], e["output_id"])): e.get("text") for e in rule.get("output_entries") or []
        },
    }


def _table_id(table: dict[str, Any] | None) -> str | None:
    return None if table is None else str(table.get("id"))


def _summary(process: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "element": spec["bpmn_id"],
        "process": process,
        "type": spec["typename"],
        "name": spec.get("bpmn_name"),
        "lane": spec.get("lane"),
    }


def _version(process: ProcessVersion) -> dict[str, Any]:
    return {
        "version": process.version,
        "files": process.files,
        "deployed_by": process.deployed_by,
        "deployed_at": process.deployed_at.isoformat(),
    }
