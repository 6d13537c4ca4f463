"""Metaflow's ``metaflow.integrations``: ``ArgoEvent``, to publish from a step the events that
start flows deployed with ``@trigger`` (``flowc.runtime_shim.argo_events``)."""

from flowc.runtime_shim.argo_events import ArgoEvent, ArgoEventException

__all__ = ["ArgoEvent", "ArgoEventException"]
