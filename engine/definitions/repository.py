"""Process definitions: every deployed BPMN and DMN file version, and the executable processes
parsed from them. Running cases stay on the ProcessVersion they started on (until an
administrator migrates them, engine/cases/migration.py); new cases take the newest. An upload
that does not parse, or whose new or changed processes fail our checks, is refused whole, with
every problem found, and nothing is stored."""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser import VALIDATOR, SpiffBpmnParser
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ..deadlines import BusinessCalendar, Clock
from ..errors import DeployRefused, InvalidField, NotFound, Problem
from ..execution import DEFAULT_TIME_LIMIT, GridflowScriptEngine, Specs, WorkflowCodec, use_our_clock
from ..storage import Case, DefinitionFile, ProcessVersion, column_length, record
from .checks import check_specs
from .diff import VersionComparison, compare
from .parsing import KINDS, check_tables, decision_table_files, files_without_process, parse_tables

MAX_FILE_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class Upload:
    name: str
    content: bytes


@dataclass(frozen=True)
class Deployment:
    files: list[DefinitionFile]  # new file versions stored
    processes: list[ProcessVersion]  # new process versions stored


class DefinitionRepository:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        codec: WorkflowCodec,
        script_time_limit: float = DEFAULT_TIME_LIMIT,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._codec = codec
        self._script_time_limit = script_time_limit  # of each expression the checks evaluate
        self._specs: dict[int, Specs] = {}  # ProcessVersion.id -> parsed spec; versions never change
        self._check_engine: GridflowScriptEngine | None = None  # made at the first deploy that checks

    # --- deploying --------------------------------------------------------------------------

    def deploy(self, uploads: Iterable[Upload], deployed_by: str) -> Deployment:
        with self._sessions.begin() as session:
            return self._deploy(session, list(uploads), deployed_by)

    def deploy_directory(self, directory: Path, deployed_by: str) -> Deployment:
        """Deploy the files of workflows/ that differ from what is stored (first start, upgrades)."""
        uploads = [
            Upload(path.name, path.read_bytes())
            for path in sorted(directory.iterdir())
            if path.suffix in KINDS
        ]
        return self.deploy(uploads, deployed_by)

    def _deploy(self, session: Session, uploads: list[Upload], deployed_by: str) -> Deployment:
        current = {f.name: f for f in self._latest_files(session)}
        contents = {name: f.content for name, f in current.items()}
        changed: list[tuple[str, str]] = []
        names = [upload.name for upload in uploads]
        if len(set(names)) != len(names):
            raise InvalidField("file", "the same file name is attached twice")
        for upload in uploads:
            text = self._check_upload(upload)
            if current.get(upload.name) is None or current[upload.name].sha256 != _sha(text):
                changed.append((upload.name, text))
            contents[upload.name] = text
        if not changed:
            return Deployment(files=[], processes=[])

        latest = {p.process_id: p for p in self.latest_processes(session)}
        built = self._build(
            contents,
            stored_sha256={process_id: p.sha256 for process_id, p in latest.items()},
            changed_files={name for name, _ in changed},
        )
        now = self._clock.now()
        files: list[DefinitionFile] = []
        for name, text in changed:
            previous = current.get(name)
            stored = DefinitionFile(
                name=name,
                kind=KINDS[Path(name).suffix],
                version=(previous.version + 1) if previous else 1,
                content=text,
                sha256=_sha(text),
                deployed_by=deployed_by,
                deployed_at=now,
            )
            session.add(stored)
            files.append(stored)
        file_versions = {f.name: f.version for f in current.values()} | {f.name: f.version for f in files}

        processes: list[ProcessVersion] = []
        for process_id, (name, spec_json) in built.items():
            previous_process = latest.get(process_id)
            version = ProcessVersion(
                process_id=process_id,
                name=name,
                version=(previous_process.version + 1) if previous_process else 1,
                spec=spec_json,
                sha256=_sha(spec_json),
                files=file_versions,
                deployed_by=deployed_by,
                deployed_at=now,
            )
            session.add(version)
            processes.append(version)
        session.flush()
        record(
            session,
            at=now,
            actor=deployed_by,
            action="deploy",
            detail={
                "files": {f.name: f.version for f in files},
                "processes": {p.process_id: p.version for p in processes},
            },
        )
        return Deployment(files=files, processes=processes)

    @staticmethod
    def _check_upload(upload: Upload) -> str:
        if Path(upload.name).suffix not in KINDS or Path(upload.name).name != upload.name:
            raise InvalidField("file", "must be a .bpmn or .dmn file name without folders")
        longest = column_length(DefinitionFile.name)
        if len(upload.name) > longest:
            message = f"the file name is {len(upload.name)} characters long; at most {longest} are stored"
            raise DeployRefused([Problem(None, message, upload.name)])
        if len(upload.content) > MAX_FILE_BYTES:
            raise InvalidField("file", f"is larger than {MAX_FILE_BYTES // 1024 // 1024} MB")
        try:
            return upload.content.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidField("file", "must be UTF-8 text") from exc

    def _build(
        self, contents: dict[str, str], stored_sha256: dict[str, str], changed_files: set[str]
    ) -> dict[str, tuple[str, str]]:
        """Parse the whole candidate set and return its new and changed processes: process id ->
        (name, serialized specs), compared with the sha256 of each process's newest stored
        version. Raises DeployRefused with every problem when any file or process fails the
        parser, a new or changed BPMN file holds no process, a table of a new or changed DMN
        file fails our checks (called or not), or a new or changed process fails them. Files
        that do not read stop it there: their processes cannot be built to check."""
        parser = SpiffBpmnParser(validator=VALIDATOR)
        problems: list[Problem] = []
        for name, text in sorted(contents.items()):
            try:
                if name.endswith(".dmn"):
                    parser.add_dmn_str(text.encode("utf-8"), filename=name)
                else:
                    parser.add_bpmn_str(text.encode("utf-8"), filename=name)
            except etree.XMLSyntaxError as exc:
                problems.append(Problem(None, f"not well-formed XML: {exc}", name))
            except ValidationException as exc:
                problems.append(Problem(exc.id or None, str(exc), exc.file_name or name))
            except SpiffWorkflowException as exc:
                problems.append(Problem(None, str(exc), name))
        if problems:
            raise DeployRefused(problems)
        problems += files_without_process(parser, changed_files)
        unread_tables = parse_tables(parser, changed_files)
        if unread_tables:  # the processes calling them cannot be built to check
            raise DeployRefused(problems + unread_tables)
        problems += check_tables(parser, changed_files)
        table_files = decision_table_files(parser)
        built = {}
        for process_id in parser.get_process_ids():
            try:
                specs = (parser.get_spec(process_id), parser.get_subprocess_specs(process_id))
            except ValidationException as exc:
                problems.append(Problem(exc.id or None, str(exc), exc.file_name))
                continue
            except SpiffWorkflowException as exc:
                problems.append(Problem(None, f"process {process_id}: {exc}", None))
                continue
            # Clocked before serializing, as stored versions were. The checks find timers by
            # isinstance, which the clocked subclasses pass, so they see the same process.
            use_our_clock(specs)
            spec_json = self._codec.specs_to_json(specs)
            if _sha(spec_json) == stored_sha256.get(process_id):
                # As stored, it passed the checks of its day; a check added since, or a role
                # withdrawn, must not let it refuse every later deploy of other files.
                continue
            found = check_specs(specs, self._checking_engine(), table_files)
            if found:
                problems += found
                continue
            built[process_id] = (specs[0].description or process_id, spec_json)
        if problems:
            raise DeployRefused(list(dict.fromkeys(problems)))  # a cell checked with its table and its caller
        return built

    def _checking_engine(self) -> GridflowScriptEngine:
        """The script engine deploy checks evaluate timer expressions on, with the functions
        diagrams call. The office's own hours and extra days do not matter there, only that an
        expression gives a value; the holiday tables take a moment to build, hence on demand."""
        if self._check_engine is None:
            self._check_engine = GridflowScriptEngine(BusinessCalendar(), self._clock, self._script_time_limit)
        return self._check_engine

    # --- reading ----------------------------------------------------------------------------

    def _latest_files(self, session: Session) -> list[DefinitionFile]:
        newest = (
            select(DefinitionFile.name, func.max(DefinitionFile.version).label("version"))
            .group_by(DefinitionFile.name)
            .subquery()
        )
        return list(
            session.scalars(
                select(DefinitionFile).join(
                    newest, (DefinitionFile.name == newest.c.name) & (DefinitionFile.version == newest.c.version)
                )
            )
        )

    @staticmethod
    def _latest_process(session: Session, process_id: str) -> ProcessVersion | None:
        return session.scalars(
            select(ProcessVersion)
            .where(ProcessVersion.process_id == process_id)
            .order_by(ProcessVersion.version.desc())
            .limit(1)
        ).first()

    def latest_processes(self, session: Session) -> list[ProcessVersion]:
        """The newest version of every deployed process."""
        newest = select(ProcessVersion.process_id, func.max(ProcessVersion.version).label("version")).group_by(
            ProcessVersion.process_id
        )
        rows = newest.subquery()
        is_newest = (rows.c.process_id == ProcessVersion.process_id) & (rows.c.version == ProcessVersion.version)
        return list(session.scalars(select(ProcessVersion).join(rows, is_newest).order_by(ProcessVersion.process_id)))

    def latest_process(self, session: Session, process_id: str) -> ProcessVersion:
        version = self._latest_process(session, process_id)
        if version is None:
            raise NotFound(f"process {process_id!r} is not deployed")
        return version

    def process_version(self, session: Session, process_id: str, version: int) -> ProcessVersion:
        found = session.scalar(
            select(ProcessVersion).where(ProcessVersion.process_id == process_id, ProcessVersion.version == version)
        )
        if found is None:
            raise NotFound(f"process {process_id!r} has no version {version}")
        return found

    def compare(self, session: Session, old: ProcessVersion, new: ProcessVersion) -> VersionComparison:
        """Two versions of a process aligned element by element (for the diff and migrations)."""
        return compare(old, self.specs(session, old.id), new, self.specs(session, new.id))

    def diff(self, process_id: str, from_version: int | None = None, to_version: int | None = None) -> dict[str, Any]:
        """What changed from one version of a process to another; by default from the version
        before the newest to the newest."""
        with self._sessions() as session:
            newest = self.latest_process(session, process_id)
            to = self.process_version(session, process_id, to_version) if to_version is not None else newest
            if from_version is None:
                if to.version == 1:
                    raise NotFound(f"process {process_id!r} has no version before {to.version} to compare with")
                from_version = to.version - 1
            old = self.process_version(session, process_id, from_version)
            return self.compare(session, old, to).report()

    def specs(self, session: Session, process_version_id: int) -> Specs:
        specs = self._specs.get(process_version_id)
        if specs is None:
            text = session.scalar(select(ProcessVersion.spec).where(ProcessVersion.id == process_version_id))
            if text is None:
                raise NotFound(f"process version {process_version_id} does not exist")
            specs = self._specs[process_version_id] = self._codec.specs_from_json(text)
        return specs

    def diagram(self, process_version_id: int) -> str:
        """The BPMN file a process version was parsed from, at the version it used."""
        with self._sessions() as session:
            process = session.get(ProcessVersion, process_version_id)
            if process is None:
                raise NotFound(f"process version {process_version_id} does not exist")
            name = self.specs(session, process_version_id)[0].file
            content = session.scalar(
                select(DefinitionFile.content).where(
                    DefinitionFile.name == name, DefinitionFile.version == process.files[name]
                )
            )
            if content is None:
                raise NotFound(f"{name} version {process.files[name]} is not stored")
            return str(content)

    def file_content(self, name: str, version: int) -> str:
        """One stored version of a BPMN or DMN file, as it was deployed."""
        with self._sessions() as session:
            content = session.scalar(
                select(DefinitionFile.content).where(DefinitionFile.name == name, DefinitionFile.version == version)
            )
        if content is None:
            raise NotFound(f"{name} version {version} is not stored")
        return str(content)

    def overview(self) -> dict[str, Any]:
        """Every stored file version and process version, with how many cases run on each."""
        with self._sessions() as session:
            running = dict(
                session.execute(
                    select(Case.process_version_id, func.count())
                    .where(Case.closed_at.is_(None))
                    .group_by(Case.process_version_id)
                ).all()
            )
            files = session.scalars(select(DefinitionFile).order_by(DefinitionFile.name, DefinitionFile.version))
            processes = session.scalars(
                select(ProcessVersion).order_by(ProcessVersion.process_id, ProcessVersion.version)
            )
            return {
                "files": [
                    {
                        "name": f.name,
                        "kind": f.kind,
                        "version": f.version,
                        "sha256": f.sha256,
                        "deployed_by": f.deployed_by,
                        "deployed_at": f.deployed_at.isoformat(),
                    }
                    for f in files
                ],
                "processes": [
                    {
                        "id": p.process_id,
                        "name": p.name,
                        "version": p.version,
                        "files": p.files,
                        "deployed_by": p.deployed_by,
                        "deployed_at": p.deployed_at.isoformat(),
                        "running_cases": running.get(p.id, 0),
                    }
                    for p in processes
                ],
            }


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
