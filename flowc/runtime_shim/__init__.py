"""The runtime shim: runs one step of a compiled flow as one task, inside any container.

Standard library only at import (boto3 only for an ``s3://`` datastore; never libcst or jinja2).
The interface ``flowc run`` and every orchestrator use:

- ``loader.load_flow_class(flow_file, manifest)``: import the user's flow once (``import
  metaflow`` resolves to flowc), checking the manifest's source hash.
- ``task.run_task(TaskRequest) -> TaskResult``: run one attempt of one task; never raises for a
  failing step, never exits, never redirects output.
- ``datastore.open_datastore(root)``: the local or S3 datastore (shim, ``flowc run``, client);
  ``Datastore.save_log`` stores captured output, ``capture.capture_output`` captures it.
- ``manifest_source.load(source)`` / ``encode_inline(flow)``: the manifest's sources.
- ``ids.task_id(index_path, iteration)``: deterministic task ids.
- ``python -m flowc.runtime_shim``: the command line of docs/contracts.md section 4.

Inside: ``graph`` finds a task's parents from the manifest and the datastore, ``params`` types
parameter values, ``step_env`` applies @timeout/@environment/@secrets, ``s3`` is the S3 backend.
"""
