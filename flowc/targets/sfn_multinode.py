"""``@parallel`` on Step Functions: the gang step as one AWS Batch multi-node parallel job.

- The job definition (CloudFormation format) has ``Type: multinode``: ``NodeProperties`` with
  node 0 as the main node and one node range ``0:`` running the shim's container, so every node
  runs the same command; the shim reads its place in the gang from Batch's environment
  (``AWS_BATCH_JOB_NODE_INDEX`` and friends, ``flowc.runtime_shim.gang``) and ends its index path
  with the node index, which is how ``flowc run`` lays a gang out. Node 0 waits for the others
  before it exits, because the main node's exit ends a multi-node job.
- The Task state submits it with ``NodeOverrides``: the gang size (``NumNodes``: the literal
  ``num_parallel``, or the width the parent task wrote to the datastore, read back before the
  submit) and the shim's command under ``NodePropertyOverrides`` for the range ``0:``
  (multi-node jobs take no top-level ``ContainerOverrides``).

In the ASL format no job definition is generated: the ``sfn_job_definition`` the steps share must
then be a multi-node one (``FLOW231``). Multi-node jobs run on EC2 compute environments only.
"""

from __future__ import annotations

from typing import Any

ALL_NODES = "0:"
MAIN_NODE = 0


def node_overrides(task: dict[str, Any], num_nodes: int | str) -> dict[str, Any]:
    """The container Task ``task`` turned into the submit of a multi-node job of ``num_nodes``
    (a number, or the JSONPath holding it at run time)."""
    parameters = dict(task["Parameters"])
    container = parameters.pop("ContainerOverrides")
    overrides: dict[str, Any] = {"NumNodes.$": num_nodes} if isinstance(num_nodes, str) else {"NumNodes": num_nodes}
    overrides["NodePropertyOverrides"] = [{"TargetNodes": ALL_NODES, "ContainerOverrides": container}]
    parameters["NodeOverrides"] = overrides
    return {**task, "Parameters": parameters}


def job_definition(container_definition: dict[str, Any], num_nodes: int) -> dict[str, Any]:
    """A container job definition (``AWS::Batch::JobDefinition``) made multi-node: the same
    container on every node; ``num_nodes`` is the default the submit overrides."""
    properties = dict(container_definition["Properties"])
    container = properties.pop("ContainerProperties")
    properties["Type"] = "multinode"
    properties["NodeProperties"] = {
        "NumNodes": num_nodes,
        "MainNode": MAIN_NODE,
        "NodeRangeProperties": [{"TargetNodes": ALL_NODES, "Container": container}],
    }
    ordered = {key: properties[key] for key in ("Type", "PlatformCapabilities", "NodeProperties") if key in properties}
    ordered.update({k: v for k, v in properties.items() if k not in ordered})
    return {**container_definition, "Properties": ordered}
