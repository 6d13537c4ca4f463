"""Run Step Functions state machines for real on moto, with AWS Batch jobs as local processes.

moto's Step Functions interpreter (enabled by config) runs the machine; a ``ThreadedMotoServer`` on
127.0.0.1 serves S3, Batch and Step Functions to the interpreter and to the job processes alike, so
a job's shim writes to the same S3 the machine's ``ItemReader`` and ``s3:getObject`` read.

moto 5.2.5 gets a few things wrong that a Batch-running machine hits (see
/work/shared/notes/moto-stepfunctions.md). The ASL we generate is what AWS wants; moto is patched
here instead, one small function per symptom, each listed in ``PATCHES`` and covered by a test in
tests/targets/test_sfn_moto_patches.py that fails without it (``patched(without=...)``).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import copy
import datetime
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

REGION = "us-east-1"
ACCOUNT = "123456789012"
FAKE_KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}

# --------------------------------------------------------------------------- patches
#
# Each patch returns an "undo" callable. ``apply_patches`` installs every patch not excluded.


def _operation_shapes(service: str, action: str) -> tuple[Any, Any]:
    """The botocore input and output shapes of ``service``'s ``action`` (camel or snake case)."""
    import botocore.session

    model = botocore.session.get_session().get_service_model(service)
    wanted = action.replace("_", "").lower()
    for name in model.operation_names:
        if name.lower() == wanted:
            operation = model.operation_model(name)
            return operation.input_shape, operation.output_shape
    raise KeyError(f"{service}.{action}")


def _patch_batch_case() -> Callable[[], None]:
    """Symptom: every ``batch:submitJob(.sync)`` Task fails with ``'JobName'``.

    moto's Batch integration leaves ``_normalise_parameters``/``_normalise_response`` as stubs, so
    the ASL's PascalCase parameters reach the camelCase Batch API and the camelCase response never
    becomes the PascalCase output AWS returns (the .sync poller reads ``JobId``). Keys are mapped by
    the operation's botocore shapes, so user keys inside maps (Batch ``Parameters``) stay as written.
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_batch as mod,
    )

    cls = mod.StateTaskServiceBatch
    saved = (cls.__dict__.get("_normalise_parameters"), cls.__dict__.get("_normalise_response"))

    def normalise_parameters(self, parameters, boto_service_name=None, service_action_name=None):
        shape, _ = _operation_shapes("batch", service_action_name or self.resource.api_action)
        self._to_boto_request(parameters, shape)

    def normalise_response(self, response, boto_service_name=None, service_action_name=None):
        _, shape = _operation_shapes("batch", service_action_name or self.resource.api_action)
        self._from_boto_response(response, shape)

    cls._normalise_parameters = normalise_parameters
    cls._normalise_response = normalise_response

    def undo() -> None:
        for name, value in zip(("_normalise_parameters", "_normalise_response"), saved):
            if value is None:
                delattr(cls, name)
            else:
                setattr(cls, name, value)

    return undo


def _jsonable(value: Any) -> Any:
    """What AWS's SDK integrations return for a boto value: streams read as text, times as text."""
    from botocore.response import StreamingBody

    if isinstance(value, StreamingBody):
        return value.read().decode("utf-8")
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _patch_sdk_body() -> Callable[[], None]:
    """Symptom: ``arn:aws:states:::aws-sdk:s3:getObject`` fails (``cannot pickle BufferedReader``,
    then a datetime): the SDK integration keeps the raw body stream and ``LastModified``. AWS
    returns the body as a string."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk as mod,
    )

    cls = mod.StateTaskServiceAwsSdk
    original = cls._eval_service_task

    def eval_service_task(self, env, *args, **kwargs):
        result = original(self, env, *args, **kwargs)
        env.stack.append(_jsonable(env.stack.pop()))
        return result

    cls._eval_service_task = eval_service_task
    return lambda: setattr(cls, "_eval_service_task", original)


def _patch_retry_token() -> Callable[[], None]:
    """Symptom: the retried attempt of any ``.sync`` Task fails at once with ``States.Timeout``.

    The callback endpoint is created once per state and interrupted after the first attempt, so
    every retry sees an interrupted endpoint. AWS gives each attempt its own; so do we."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_callback as mod,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
        ResourceCondition,
    )

    cls = mod.StateTaskServiceCallback
    had_own = "_eval_execution" in cls.__dict__
    original = cls._eval_execution

    def eval_execution(self, env):
        if (self._is_integration_pattern()
                and ResourceCondition.WaitForTaskToken in self._supported_integration_patterns):
            token = env.states.context_object.update_task_token()
            env.callback_pool_manager.add(token)
        return original(self, env)

    cls._eval_execution = eval_execution

    def undo() -> None:
        if had_own:
            cls._eval_execution = original
        else:
            del cls._eval_execution

    return undo


def _patch_env_growth() -> Callable[[], None]:
    """Symptom: ``Container.Environment`` of a described job grows by one entry per poll.

    moto appends ``AWS_BATCH_JOB_ID`` (and the definition's variables) to the submitted overrides
    list in place on every ``describe_jobs``; the .sync poller describes every half second."""
    from moto.batch import models

    cls = models.Job
    original = cls._get_container_property

    def get_container_property(self, p, default):
        if p != "environment":
            return original(self, p, default)
        saved = self.container_overrides
        self.container_overrides = copy.deepcopy(saved)
        try:
            return original(self, p, default)
        finally:
            self.container_overrides = saved

    cls._get_container_property = get_container_property
    return lambda: setattr(cls, "_get_container_property", original)


SHIM_MODULE = "flowc.runtime_shim"


def _patch_cfn_state_machine() -> Callable[[], None]:
    """Symptom: a CloudFormation ``AWS::StepFunctions::StateMachine`` with ``Definition`` (an
    object) and ``DefinitionSubstitutions`` is created empty, in the backend that does not execute
    (``DescribeStateMachine`` then says it does not exist). moto reads only ``DefinitionString``;
    AWS takes either, substitutes ``${name}`` from ``DefinitionSubstitutions``, and the machine is
    the one the API sees."""
    from moto.stepfunctions import models, responses
    from moto.core.utils import unix_time  # noqa: F401 - moto is importable (fail early otherwise)

    cls = models.StateMachine
    original = cls.__dict__["create_from_cloudformation_json"]

    def create(klass, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        properties = cloudformation_json["Properties"]
        definition = properties.get("Definition")
        text = json.dumps(definition) if definition is not None else properties.get("DefinitionString", "")
        for key, value in (properties.get("DefinitionSubstitutions") or {}).items():
            text = text.replace("${%s}" % key, str(value))
        backend = responses.get_backend(account_id, region_name)
        name = properties.get("StateMachineName", resource_name)
        tags = models.cfn_to_api_tags(properties.get("Tags", []))
        return backend.create_state_machine(name, text, properties.get("RoleArn", ""), tags=tags)

    cls.create_from_cloudformation_json = classmethod(create)
    return lambda: setattr(cls, "create_from_cloudformation_json", original)


def _patch_describe_jobs_race() -> Callable[[], None]:
    """Symptom: under a wide Map some Batch Tasks fail with ``KeyError('RequestId')``: moto's
    ``describe_jobs`` iterates the live job table while another request thread submits a job
    (``dictionary changed size during iteration``, HTTP 500). Iterate a snapshot."""
    from moto.batch import models

    cls = models.BatchBackend
    original = cls.describe_jobs

    def describe_jobs(self, jobs):
        wanted = set(jobs or ())
        while True:  # the table can still change while it is copied (seen under a 1,000-wide Map)
            try:
                table = list(self._jobs.items())
                break
            except RuntimeError:
                continue
        return [job.describe() for key, job in table
                if not wanted or key in wanted or job.arn in wanted]

    cls.describe_jobs = describe_jobs
    return lambda: setattr(cls, "describe_jobs", original)


def _patch_map_failures() -> Callable[[], None]:
    """Symptom: a failed Distributed Map child leaves a ``null`` item and the execution SUCCEEDS.

    moto counts failed children but never compares them with the Map's tolerated failure count
    and percentage (both 0 by default). AWS fails the Map with
    ``States.ExceedToleratedFailureThreshold``; so do we."""
    from moto.stepfunctions.parser.api import HistoryEventType, MapRunFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent, FailureEventException)
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName)
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType)
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
        distributed_iteration_component as mod)
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    cls = mod.DistributedIterationComponent
    original = cls._map_run

    def map_run(self, env, eval_input):
        original(self, env, eval_input)
        counter = eval_input.map_run_record.item_counter
        failed = counter.failed.get() + counter.timed_out.get()
        total = max(counter.total.get(), 1)
        if failed > eval_input.tolerated_failure_count and \
                100.0 * failed / total > eval_input.tolerated_failure_percentage:
            kind = StatesErrorNameType.StatesExceedToleratedFailureThreshold
            cause = f"{failed} of {total} Map children failed"
            raise FailureEventException(FailureEvent(
                env=env, error_name=StatesErrorName(typ=kind),
                event_type=HistoryEventType.MapRunFailed,
                event_details=EventDetails(mapRunFailedEventDetails=MapRunFailedEventDetails(
                    error=kind.to_name(), cause=cause))))

    cls._map_run = map_run
    return lambda: setattr(cls, "_map_run", original)


@dataclass
class JobRunner:
    """Runs the command of each submitted Batch job as a local process (moto's no-Docker backend
    marks jobs done without running them).

    Commands of the form ``<this python> -m flowc.runtime_shim ...`` are forked from a warm
    interpreter (the *zygote*, which has the shim and boto3 imported) instead of starting a new
    Python each time: the same argv, environment and working directory, a fraction of the start-up
    cost, which is what lets a 1,000-wide foreach run here. Anything else runs as a subprocess.
    """

    base_env: dict[str, str]
    workdir: Path
    max_processes: int = 4
    use_zygote: bool = True
    jobs: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # what the harness could not run as AWS would
    _slots: threading.Semaphore = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _zygote: "Zygote | None" = field(default=None, init=False)
    _done: dict[str, threading.Event] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self._slots = threading.Semaphore(self.max_processes)
        (self.workdir / "jobs").mkdir(parents=True, exist_ok=True)

    def environment(self, job: Any) -> dict[str, str]:
        """The job's environment as Batch gives it: definition, then overrides, then Batch's own."""
        env = dict(self.base_env)
        definition = job.job_definition.container_properties or {}
        for item in definition.get("environment", []):
            env[item["name"]] = item["value"]
        for item in job.container_overrides.get("environment", []):
            env[item["name"]] = item["value"]
        env["AWS_BATCH_JOB_ID"] = job.job_id
        env["AWS_BATCH_JOB_ATTEMPT"] = "1"
        if "index" in job.array_properties:  # a child of an array job
            env["AWS_BATCH_JOB_ARRAY_INDEX"] = str(job.array_properties["index"])
        return env

    def finished(self, job_id: str) -> threading.Event | None:
        """Set when the job has been marked done (None for jobs this runner did not start)."""
        return self._done.get(job_id)

    def start(self, job: Any) -> None:
        self._done[job.job_id] = threading.Event()
        definition = job.job_definition.container_properties or {}
        command = list(job.container_overrides.get("command") or definition.get("command") or [])
        env = self.environment(job)
        log = self.workdir / "jobs" / f"{job.job_id}.log"
        started = time.monotonic()
        if self.use_zygote and command[:3] == [sys.executable, "-m", SHIM_MODULE]:
            with self._lock:
                if self._zygote is None:
                    self._zygote = Zygote(self.max_processes, self.base_env)
            self._zygote.submit(command[3:], env, self.workdir, log,
                                lambda code: self._finish(job, command, code, started, log))
            return
        thread = threading.Thread(target=self._run, args=(job, command, env, started, log), daemon=True)
        thread.start()

    def start_multinode(self, job: Any, overrides: dict[str, Any]) -> None:
        """A multi-node parallel job: ``numNodes`` (the submit's ``nodeOverrides``, else the
        definition's) processes started together, each with its node range's container, the
        overrides for its range and Batch's ``AWS_BATCH_JOB_NODE_INDEX`` / ``NUM_NODES`` /
        ``MAIN_NODE_INDEX`` / ``MAIN_NODE_PRIVATE_IPV4_ADDRESS`` (the last on child nodes only).
        The job ends with the main node (node 0), with its exit code, as on AWS. A gang bypasses
        the process limit: its members start together or node 0 would wait forever."""
        self._done[job.job_id] = threading.Event()
        properties = job.job_definition.node_properties or {}
        nodes = int(overrides.get("numNodes") or properties["numNodes"])
        started = time.monotonic()
        members = []
        for node in range(nodes):
            container: dict[str, Any] = {}
            for node_range in properties["nodeRangeProperties"]:
                if _in_range(node, node_range["targetNodes"], nodes):
                    container = dict(node_range.get("container") or {})
            env = dict(self.base_env)
            for item in container.get("environment", []):
                env[item["name"]] = item["value"]
            command = list(container.get("command") or [])
            for override in overrides.get("nodePropertyOverrides", []):
                if _in_range(node, override["targetNodes"], nodes):
                    given = override.get("containerOverrides") or {}
                    command = list(given.get("command") or command)
                    for item in given.get("environment", []):
                        env[item["name"]] = item["value"]
            env.update({"AWS_BATCH_JOB_ID": f"{job.job_id}#{node}", "AWS_BATCH_JOB_ATTEMPT": "1",
                        "AWS_BATCH_JOB_NODE_INDEX": str(node), "AWS_BATCH_JOB_NUM_NODES": str(nodes),
                        "AWS_BATCH_JOB_MAIN_NODE_INDEX": "0"})
            if node:
                env["AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS"] = "127.0.0.1"
            members.append((command, env, self.workdir / "jobs" / f"{job.job_id}.node{node}.log"))
        threading.Thread(target=self._run_gang, args=(job, members, started), daemon=True).start()

    def _run_gang(self, job: Any, members: list[tuple[list[str], dict[str, str], Path]], started: float) -> None:
        def run(command: list[str], env: dict[str, str], log: Path) -> int:
            with log.open("wb") as out:
                return subprocess.call(command, env=env, cwd=self.workdir, stdout=out,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

        with concurrent.futures.ThreadPoolExecutor(max_workers=len(members)) as pool:
            codes = list(pool.map(lambda m: run(*m), members))
        log = self.workdir / "jobs" / f"{job.job_id}.log"
        log.write_text("".join(f"--- node {i}: exit {code}\n{path.read_text(errors='replace')}"
                               for i, ((_, _, path), code) in enumerate(zip(members, codes))))
        self._finish(job, members[0][0], codes[0], started, log)

    def start_array(self, job: Any) -> None:
        """An array job's parent: done when every child has run, failed when one failed. moto
        marks the parent SUCCEEDED at submit time, before (and whatever) its children do; a
        child that never ran through this runner fails the parent and is recorded in ``errors``."""
        self._done[job.job_id] = threading.Event()
        threading.Thread(target=self._await_children, args=(job, time.monotonic()), daemon=True).start()

    def _await_children(self, job: Any, started: float) -> None:
        deadline = time.monotonic() + 10
        while job._child_jobs is None and time.monotonic() < deadline:  # set after submit returns
            time.sleep(0.01)
        children = job._child_jobs or []
        size = int(job.array_properties.get("size") or 0)
        log = self.workdir / "jobs" / f"{job.job_id}.log"
        missing = [c.job_id for c in children if self.finished(c.job_id) is None]
        if len(children) != size or missing:
            problem = (f"array job {job.job_name} ({job.job_id}): {size} children expected, "
                       f"{len(children) - len(missing)} run by the harness")
            with self._lock:
                self.errors.append(problem)
            log.write_text(problem + "\n")
            self._finish(job, [], 1, started, log)
            return
        for child in children:
            self._done[child.job_id].wait()
        log.write_text("".join(f"child {c.array_properties['index']}: exit {c.exit_code}\n" for c in children))
        ok = all(child.exit_code == 0 for child in children)
        self._finish(job, [], 0 if ok else 1, started, log)

    def _run(self, job: Any, command: list[str], env: dict[str, str], started: float, log: Path) -> None:
        with self._slots:
            try:
                with log.open("wb") as out:
                    code = subprocess.call(command, env=env, cwd=self.workdir, stdout=out,
                                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            except OSError as exc:
                log.write_text(f"cannot start {command!r}: {exc}\n")
                code = 127
        self._finish(job, command, code, started, log)

    def _finish(self, job: Any, command: list[str], code: int, started: float, log: Path) -> None:
        job.exit_code = code
        with self._lock:
            self.jobs.append({"id": job.job_id, "name": job.job_name, "command": command,
                              "exit_code": code, "seconds": time.monotonic() - started,
                              "log": str(log),
                              "array_index": job.array_properties.get("index"),
                              "array_size": job.array_properties.get("size")})
        job._mark_stopped(success=code == 0)
        self._done[job.job_id].set()

    def close(self) -> None:
        if self._zygote is not None:
            self._zygote.close()


class Zygote:
    """A warm ``python`` that forks one child per shim task (see ``zygote_main``)."""

    def __init__(self, max_processes: int, env: dict[str, str]):
        root = Path(__file__).resolve().parents[2]
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from tests.harness.moto_sfn import zygote_main; zygote_main()",
             str(max_processes)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=root, env={**env, "PYTHONPATH": str(root)},
            text=True, bufsize=1)
        self._callbacks: dict[int, Callable[[int], None]] = {}
        self._next = 0
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def submit(self, argv: list[str], env: dict[str, str], cwd: Path, log: Path,
               done: Callable[[int], None]) -> None:
        with self._lock:
            self._next += 1
            self._callbacks[self._next] = done
            line = json.dumps({"id": self._next, "argv": argv, "env": env, "cwd": str(cwd),
                               "log": str(log)})
            assert self.process.stdin is not None
            self.process.stdin.write(line + "\n")
            self.process.stdin.flush()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            record = json.loads(line)
            with self._lock:
                done = self._callbacks.pop(record["id"])
            done(record["code"])

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


def zygote_main() -> None:
    """Read task requests (JSON lines) on stdin, fork a child per request (at most argv[1] at a
    time) that becomes ``python -m flowc.runtime_shim ARGV`` with the request's environment,
    working directory and log; report ``{"id", "code"}`` lines on stdout. Single-threaded, so
    forking is safe."""
    import collections
    import selectors
    import traceback

    import boto3
    import botocore.loaders
    import flowc.runtime_shim.__main__ as shim_main
    import flowc.runtime_shim.s3  # noqa: F401
    import flowc.runtime_shim.task  # noqa: F401

    # botocore re-reads its (immutable) JSON service models for every new session; each child
    # makes one. Read them once here, before forking.
    models: dict[tuple[Any, ...], Any] = {}
    load_file = botocore.loaders.JSONFileLoader.load_file

    def cached_load_file(self, file_path, *args, **kwargs):
        key = (file_path, *args, *sorted(kwargs.items()))
        if key not in models:
            models[key] = load_file(self, file_path, *args, **kwargs)
        return models[key]

    botocore.loaders.JSONFileLoader.load_file = cached_load_file
    boto3.session.Session().client("s3", region_name=REGION, endpoint_url="http://127.0.0.1:9")

    limit = int(sys.argv[1])
    pending: collections.deque[dict[str, Any]] = collections.deque()
    running: dict[int, int] = {}
    selector = selectors.DefaultSelector()
    selector.register(sys.stdin, selectors.EVENT_READ)
    open_input = True
    while open_input or pending or running:
        if open_input and selector.select(timeout=0.01 if (pending or running) else None):
            line = sys.stdin.readline()
            if line:
                pending.append(json.loads(line))
            else:
                open_input = False
                selector.unregister(sys.stdin)
        while pending and len(running) < limit:
            request = pending.popleft()
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:  # the child: become the task
                code = 1
                try:
                    fd = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                    os.dup2(fd, 1)
                    os.dup2(fd, 2)
                    os.close(fd)
                    os.chdir(request["cwd"])
                    os.environ.clear()
                    os.environ.update(request["env"])
                    sys.argv = ["python -m flowc.runtime_shim", *request["argv"]]
                    code = shim_main.main(request["argv"])
                except SystemExit as exc:
                    code = exc.code if isinstance(exc.code, int) else 1
                except BaseException:
                    traceback.print_exc()
                finally:
                    try:
                        sys.stdout.flush()
                        sys.stderr.flush()
                    finally:
                        os._exit(code)
            running[pid] = request["id"]
        while running:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            code = os.waitstatus_to_exitcode(status)
            print(json.dumps({"id": running.pop(pid), "code": code if code >= 0 else 128 - code}),
                  flush=True)


_RUNNER: JobRunner | None = None


def _patch_batch_runs_jobs() -> Callable[[], None]:
    """Symptom: jobs "succeed" without running. moto's no-Docker Batch backend (``batch_simple``)
    marks each job done at submit time; we run the job's command (with the overrides' environment,
    ``AWS_BATCH_JOB_ATTEMPT``, ``AWS_BATCH_JOB_ID`` and an array child's
    ``AWS_BATCH_JOB_ARRAY_INDEX``) and mark the job by its exit code, an array job's parent by its
    children's."""
    from moto.batch import models as batch_models
    from moto.batch_simple import models

    cls = models.BatchSimpleBackend
    original = cls._mark_job_as_finished

    def mark_job(self, include_start_attempt, job):
        if _RUNNER is None:
            return original(self, include_start_attempt, job)
        self.backend._jobs[job.job_id] = job
        job.job_started_at = datetime.datetime.now()
        job.log_stream_name = job._stream_name
        if include_start_attempt:
            job._start_attempt()
        job.status = batch_models.JobStatus.RUNNING.value
        if job.array_properties.get("size"):
            _RUNNER.start_array(job)
        elif job.job_definition.type == "multinode":
            _RUNNER.start_multinode(job, getattr(_SUBMITTING, "node_overrides", None) or {})
        else:
            _RUNNER.start(job)

    cls._mark_job_as_finished = mark_job
    return lambda: setattr(cls, "_mark_job_as_finished", original)


_SUBMITTING = threading.local()  # the nodeOverrides of the submit this thread is handling


def _patch_node_overrides() -> Callable[[], None]:
    """Symptom: a multi-node job runs with its definition's node count and commands. moto's Step
    Functions keeps only the ``submitJob`` fields of an old list of the Batch integration's
    parameters (no ``NodeOverrides``; AWS's page now refers to the whole SubmitJob API), and
    moto's ``submit_job`` drops ``nodeOverrides``: the field is let through, and kept for the
    runner, which moto calls from the same submit (``batch_simple`` starts jobs synchronously).
    Covered by tests/targets/test_parallel_sfn_moto_patch.py."""
    from moto.batch.responses import BatchResponse
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_batch as mod,
    )

    original = BatchResponse.submit_job
    fields = mod._SUPPORTED_API_PARAM_BINDINGS["submitjob"]
    added = "NodeOverrides" not in fields

    def submit_job(self):
        _SUBMITTING.node_overrides = self._get_param("nodeOverrides")
        try:
            return original(self)
        finally:
            _SUBMITTING.node_overrides = None

    BatchResponse.submit_job = submit_job
    fields.add("NodeOverrides")

    def undo() -> None:
        BatchResponse.submit_job = original
        if added:
            fields.discard("NodeOverrides")

    return undo


def _in_range(node: int, target: str, nodes: int) -> bool:
    """Whether Batch's ``targetNodes`` (``2``, ``0:``, ``:3``, ``1:4``) covers ``node``."""
    start, sep, end = target.partition(":")
    if not sep:
        return node == int(start)
    return int(start or 0) <= node <= (int(end) if end else nodes - 1)


PATCHES: dict[str, Callable[[], Callable[[], None]]] = {
    "batch_case": _patch_batch_case,
    "batch_runs_jobs": _patch_batch_runs_jobs,
    "retry_token": _patch_retry_token,
    "sdk_body": _patch_sdk_body,
    "env_growth": _patch_env_growth,
    "map_failures": _patch_map_failures,
    "cfn_state_machine": _patch_cfn_state_machine,
    "describe_jobs_race": _patch_describe_jobs_race,
    "node_overrides": _patch_node_overrides,
}


@contextlib.contextmanager
def patched(without: tuple[str, ...] = ()) -> Iterator[None]:
    """Install every patch except those named in ``without``; undo them on exit."""
    unknown = set(without) - set(PATCHES)
    if unknown:
        raise KeyError(sorted(unknown))
    undos = [PATCHES[name]() for name in PATCHES if name not in without]
    try:
        yield
    finally:
        for undo in reversed(undos):
            undo()


# --------------------------------------------------------------------------- the server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Execution:
    """How an execution ended, with its history and the Batch jobs it ran."""

    name: str  # the execution name: the run id of every task
    status: str
    output: Any
    error: str | None
    cause: str | None
    events: tuple[dict[str, Any], ...]
    jobs: tuple[dict[str, Any], ...]
    seconds: float


class MotoSfn:
    """A moto server with Step Functions execution, S3 and Batch, and a job queue ready to use.

    Use as a context manager: ``with MotoSfn(tmp_path) as aws: aws.run(definition, {...})``.
    """

    def __init__(self, workdir: Path, *, bucket: str = "flowc-test", max_processes: int = 4,
                 without: tuple[str, ...] = (), extra_env: dict[str, str] | None = None,
                 use_zygote: bool = True, poll_seconds: float = 1.0):
        self.workdir = Path(workdir)
        self.bucket = bucket
        self.max_processes = max_processes
        self.without = without
        self.extra_env = dict(extra_env or {})
        self.use_zygote = use_zygote
        self.poll_seconds = poll_seconds
        self.port = 0
        self._stack = contextlib.ExitStack()
        self.job_queue = "flowc-job-queue"
        self.job_definition = "flowc-job-definition"

    # -- lifecycle

    def __enter__(self) -> "MotoSfn":
        from moto.server import ThreadedMotoServer

        global _RUNNER
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        # The interpreter sends its own service calls to localhost:$MOTO_PORT.
        self._stack.enter_context(_environ({"MOTO_PORT": str(self.port), **FAKE_KEYS,
                                            "AWS_DEFAULT_REGION": REGION}))
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        server.start()
        self._stack.callback(server.stop)
        self._configure()
        self._stack.enter_context(patched(self.without))
        self._stack.enter_context(_sync_waits_for_jobs(self.poll_seconds))
        _RUNNER = JobRunner(self.child_env(), self.workdir, self.max_processes, self.use_zygote)
        self._stack.callback(_clear_runner)
        self._stack.callback(_RUNNER.close)
        self.runner = _RUNNER
        self.client("s3").create_bucket(Bucket=self.bucket)
        self._setup_batch()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _configure(self) -> None:
        import urllib.request

        # moto's backends live in this process and outlive a server: start from a clean state.
        reset = urllib.request.Request(f"{self.endpoint}/moto-api/reset", data=b"", method="POST")
        with urllib.request.urlopen(reset) as response:
            response.read()
        body = json.dumps({"stepfunctions": {"execute_state_machine": True},
                           "batch": {"use_docker": False}}).encode()
        request = urllib.request.Request(f"{self.endpoint}/moto-api/config", data=body,
                                         method="POST", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request) as response:
            response.read()

    def child_env(self) -> dict[str, str]:
        """The environment of job processes: this one, pointed at the moto server."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
        env.update(FAKE_KEYS)
        env.update({"AWS_ENDPOINT_URL": self.endpoint, "AWS_DEFAULT_REGION": REGION,
                    "AWS_REGION": REGION, "PYTHONUNBUFFERED": "1"})
        env.update(self.extra_env)
        return env

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(service, region_name=REGION, endpoint_url=self.endpoint,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def _setup_batch(self) -> None:
        iam = self.client("iam")
        role = iam.create_role(RoleName="flowc-batch", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        self.role_arn = role
        batch = self.client("batch")
        env = batch.create_compute_environment(computeEnvironmentName="flowc-ce", type="UNMANAGED",
                                               state="ENABLED", serviceRole=role)
        batch.create_job_queue(jobQueueName=self.job_queue, state="ENABLED", priority=1,
                               computeEnvironmentOrder=[{"order": 1, "computeEnvironment":
                                                         env["computeEnvironmentArn"]}])
        self.register_job_definition(self.job_definition)

    def register_job_definition(self, name: str, environment: dict[str, str] | None = None) -> None:
        self.client("batch").register_job_definition(
            jobDefinitionName=name, type="container",
            containerProperties={
                "image": "flowc-local", "command": ["false"],
                "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                         {"type": "MEMORY", "value": "512"}],
                "environment": [{"name": k, "value": v} for k, v in sorted((environment or {}).items())],
            })

    def register_multinode_job_definition(self, name: str, nodes: int = 2) -> None:
        """A multi-node job definition: every node (range ``0:``) runs the submit's command."""
        self.client("batch").register_job_definition(
            jobDefinitionName=name, type="multinode",
            nodeProperties={"numNodes": nodes, "mainNode": 0, "nodeRangeProperties": [{
                "targetNodes": "0:",
                "container": {"image": "flowc-local", "command": ["false"],
                              "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                       {"type": "MEMORY", "value": "512"}]},
            }]})

    # -- running machines

    def create(self, definition: str | dict[str, Any], name: str | None = None) -> str:
        text = definition if isinstance(definition, str) else json.dumps(definition)
        response = self.client("stepfunctions").create_state_machine(
            name=name or f"m-{uuid.uuid4().hex[:12]}", definition=text,
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/flowc-sfn")
        return response["stateMachineArn"]

    def run(self, definition: str | dict[str, Any], execution_input: Any = None, *,
            name: str | None = None, timeout: float = 300.0) -> Execution:
        """Create the machine, start one execution (named: ``$$.Execution.Name`` needs it), wait."""
        sfn = self.client("stepfunctions")
        arn = self.create(definition)
        before = len(self.runner.jobs)
        started = time.monotonic()
        name = name or f"run-{uuid.uuid4().hex[:12]}"
        execution = sfn.start_execution(stateMachineArn=arn, name=name,
                                        input=json.dumps(execution_input or {}))["executionArn"]
        while True:
            described = sfn.describe_execution(executionArn=execution)
            if described["status"] != "RUNNING":
                break
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"execution {name} still running after {timeout} s")
            time.sleep(0.1)
        seconds = time.monotonic() - started
        if self.runner.errors:
            raise AssertionError("the moto harness did not run every Batch job: "
                                 + "; ".join(self.runner.errors))
        events = tuple(_paginate_history(sfn, execution))
        output = described.get("output")
        return Execution(
            name=name,
            status=described["status"],
            output=json.loads(output) if output else None,
            error=described.get("error"),
            cause=described.get("cause"),
            events=events,
            jobs=tuple(job for job in self.runner.jobs[before:] if _runs_for(job["command"], name)),
            seconds=seconds,
        )

    def put_text(self, key: str, text: str) -> str:
        self.client("s3").put_object(Bucket=self.bucket, Key=key, Body=text.encode("utf-8"))
        return f"s3://{self.bucket}/{key}"


def _runs_for(command: list[str], run_id: str) -> bool:
    """Whether a job belongs to the execution ``run_id`` (several may run at once); commands
    without a run id (hand-written probes) belong to every execution."""
    if "--run-id" not in command[:-1]:
        return True
    return command[command.index("--run-id") + 1] == run_id


def _paginate_history(sfn: Any, execution: str) -> Iterator[dict[str, Any]]:
    token = None
    while True:
        kwargs = {"executionArn": execution, "maxResults": 1000}
        if token:
            kwargs["nextToken"] = token
        page = sfn.get_execution_history(**kwargs)
        yield from page["events"]
        token = page.get("nextToken")
        if not token:
            return


@contextlib.contextmanager
def _sync_waits_for_jobs(seconds: float) -> Iterator[None]:
    """Speed, not behaviour: a ``.sync`` Batch Task polls ``describe_jobs`` over HTTP every half
    second in moto, and with many Map children those polls cost more than the jobs. Here each poll
    first waits (up to ``seconds``) for the runner to mark the job done, so a Task sees its job end
    at once and idle Tasks poll once per ``seconds``. The poll itself, and so the Task's result,
    is moto's."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_batch as batch_mod,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_callback as callback_mod,
    )

    cls = batch_mod.StateTaskServiceBatch
    original = cls._build_sync_resolver
    saved_delay = callback_mod._DELAY_SECONDS_SYNC_CONDITION_CHECK

    def build_sync_resolver(self, env, *args, **kwargs):
        job_id = env.stack[-1]["JobId"]
        poll = original(self, env, *args, **kwargs)

        def resolver():
            runner = _RUNNER
            done = runner.finished(job_id) if runner is not None else None
            if done is not None:
                done.wait(timeout=seconds)
            return poll()

        return resolver

    cls._build_sync_resolver = build_sync_resolver
    callback_mod._DELAY_SECONDS_SYNC_CONDITION_CHECK = 0.01
    try:
        yield
    finally:
        cls._build_sync_resolver = original
        callback_mod._DELAY_SECONDS_SYNC_CONDITION_CHECK = saved_delay


def _clear_runner() -> None:
    global _RUNNER
    _RUNNER = None


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def python() -> str:
    return sys.executable
