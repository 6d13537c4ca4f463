"""The gang facts an engine gives a ``@parallel`` task, read from its environment.

``flowc run`` and Airflow start each gang member with its full index path (the member's node
index last), like a foreach child. Engines that start every member of a gang from one spec
instead pass only the index path of the gang's parent, and tell each member who it is through
the environment:

- a Kubernetes JobSet (Argo target): ``FLOWC_PARALLEL_NODE_INDEX`` (the pod's
  ``jobset.sigs.k8s.io/job-global-index``), ``FLOWC_PARALLEL_NUM_NODES`` and
  ``FLOWC_PARALLEL_MAIN_IP`` (the control pod's DNS name on the JobSet's headless service);
- an AWS Batch multi-node parallel job (Step Functions target): ``AWS_BATCH_JOB_NODE_INDEX``,
  ``AWS_BATCH_JOB_NUM_NODES``, ``AWS_BATCH_JOB_MAIN_NODE_INDEX`` and, on every node but the main
  one, ``AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS``.

The member's task id then ends with its node index, exactly as ``flowc run`` lays a gang out, so
the join finds every member in the datastore the same way on every engine.

A Batch multi-node job ends when its main node exits (the other nodes are stopped then), so on
Batch node 0 waits, after its own task, until every other member has finished or failed
(``wait_for_members``); a JobSet waits for all its jobs by itself.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import Callable, Mapping

from flowc.runtime_shim.datastore import Datastore, TaskKey
from flowc.runtime_shim.ids import task_id

FLOWC_NODE_INDEX = "FLOWC_PARALLEL_NODE_INDEX"
FLOWC_NUM_NODES = "FLOWC_PARALLEL_NUM_NODES"
FLOWC_MAIN_IP = "FLOWC_PARALLEL_MAIN_IP"
BATCH_NODE_INDEX = "AWS_BATCH_JOB_NODE_INDEX"
BATCH_NUM_NODES = "AWS_BATCH_JOB_NUM_NODES"
BATCH_MAIN_NODE_INDEX = "AWS_BATCH_JOB_MAIN_NODE_INDEX"
BATCH_MAIN_IP = "AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS"


@dataclass(frozen=True, slots=True)
class GangMember:
    """Who this task is in its gang; ``main_ip`` is how the other members reach node 0."""

    num_nodes: int
    node_index: int
    main_ip: str
    waits_for_members: bool = False  # node 0 of a Batch multi-node job


def _count(environ: Mapping[str, str], name: str, minimum: int) -> int:
    text = environ.get(name, "").strip()
    if not text.isdigit() or int(text) < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {text!r}")
    return int(text)


def _own_address() -> str:
    """This host's address, as the main node of a Batch gang (Batch gives it to the others only)."""
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


def gang_member(environ: Mapping[str, str]) -> GangMember | None:
    """The gang facts in ``environ``, or None when the engine passed the full index path."""
    if FLOWC_NODE_INDEX in environ:
        member = GangMember(_count(environ, FLOWC_NUM_NODES, 1), _count(environ, FLOWC_NODE_INDEX, 0),
                            environ.get(FLOWC_MAIN_IP) or "127.0.0.1")
    elif BATCH_NODE_INDEX in environ:
        main = _count(environ, BATCH_MAIN_NODE_INDEX, 0) if BATCH_MAIN_NODE_INDEX in environ else 0
        if main != 0:
            raise ValueError(f"{BATCH_MAIN_NODE_INDEX} is {main}; flowc's gangs have their control task at node 0")
        index = _count(environ, BATCH_NODE_INDEX, 0)
        member = GangMember(_count(environ, BATCH_NUM_NODES, 1), index,
                            environ.get(BATCH_MAIN_IP) or _own_address(), waits_for_members=index == 0)
    else:
        return None
    if member.node_index >= member.num_nodes:
        raise ValueError(f"gang node index {member.node_index} is outside a gang of {member.num_nodes}")
    return member


def wait_for_members(datastore: Datastore, key: TaskKey, index_path: tuple[int, ...], iteration: int,
                     attempt: int, num_nodes: int, poll_seconds: float = 2.0, start_timeout: float = 600.0,
                     sleep: Callable[[float], None] = time.sleep,
                     clock: Callable[[], float] = time.monotonic) -> str | None:
    """Wait until every other member of node 0's gang has written DONE.json (None) or recorded
    a failed attempt (its pathspec and error). A member that started is waited for as long as it
    runs (its @timeout and the engine's bound it); one that never recorded its attempt within
    ``start_timeout`` seconds is reported, so node 0 does not outlive a node that failed to start."""
    parent = index_path[:-1]
    waiting = [TaskKey(key.flow, key.run_id, key.step, task_id(parent + (i,), iteration))
               for i in range(1, num_nodes)]
    began = clock()
    while waiting:
        still = []
        for member in waiting:
            if datastore.read_done(member) is not None:
                continue
            record = datastore.read_attempt(member, attempt)
            if record is not None and record.get("status") == "failed":
                return f"gang member {member.pathspec} failed: {record.get('error', '')}"
            if record is None and clock() - began > start_timeout:
                return f"gang member {member.pathspec} did not start within {start_timeout:.0f} s"
            still.append(member)
        waiting = still
        if waiting:
            sleep(poll_seconds)
    return None
