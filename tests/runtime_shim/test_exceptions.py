"""Metaflow's exception names and the @catch artifact: importable where Metaflow has them, raised
where Metaflow raises them, pickled in Metaflow's shape."""

from __future__ import annotations

import pickle
import sys
import types

import pytest

from flowc import exceptions
from flowc.client import Flow, Run, Task
from flowc.exceptions import (MetaflowException, MetaflowExceptionWrapper, MetaflowInvalidPathspec,
                              MetaflowNotFound)
from tests.runtime_shim.driver import drive, write_flow

CATCH_FLOW = """
    import pickle

    from metaflow import FlowSpec, catch, step
    from metaflow.exception import MetaflowException, MetaflowExceptionWrapper, MetaflowNotFound
    import metaflow.client
    import metaflow.exception

    class CatchFlow(FlowSpec):
        @catch(var="err", print_exception=False)
        @step
        def start(self):
            raise ValueError("boom")
            self.next(self.end)

        @step
        def end(self):
            self.is_exception = isinstance(self.err, Exception)
            self.is_wrapper = isinstance(self.err, metaflow.exception.MetaflowExceptionWrapper)
            try:
                raise self.err
            except Exception as exc:
                self.reraised = exc is self.err
            self.modules = (metaflow.client.Flow.__module__, MetaflowNotFound.__module__)
            try:
                metaflow.client.Flow("NoSuchFlowAnywhere")
            except MetaflowNotFound as exc:
                self.not_found = isinstance(exc, MetaflowException) and isinstance(exc, KeyError)
"""


def test_catch_stores_an_exception_with_metaflows_attributes(tmp_path):
    path = write_flow(tmp_path, CATCH_FLOW)
    driven = drive(path, str(tmp_path / "ds"))
    err = driven.artifact("end", "err")
    assert isinstance(err, Exception) and isinstance(err, MetaflowExceptionWrapper)
    assert err.type == "builtins.ValueError" and err.exception == "boom"
    assert "Traceback (most recent call last)" in err.stacktrace and 'raise ValueError("boom")' in err.stacktrace
    assert str(err) == err.stacktrace
    assert driven.artifact("end", "is_exception") and driven.artifact("end", "is_wrapper")
    assert driven.artifact("end", "reraised")
    assert driven.artifact("end", "modules") == ("flowc.client", "flowc.exceptions")
    assert driven.artifact("end", "not_found") is True
    start = Task(f"CatchFlow/{driven.run_id}/start/t", driven.datastore)
    assert start.successful and start.exception is None  # @catch handled it, as in Metaflow


def test_wrapper_pickles_in_metaflows_shape():
    try:
        raise KeyError("missing")
    except KeyError as exc:
        wrapper = MetaflowExceptionWrapper(exc)
    reduced = wrapper.__reduce__()
    assert reduced[0] is MetaflowExceptionWrapper and reduced[1] == (None,)
    assert set(reduced[2]) == {"type", "exception", "stacktrace"}
    copy = pickle.loads(pickle.dumps(wrapper, protocol=5))
    assert (copy.type, copy.exception, copy.stacktrace) == (wrapper.type, wrapper.exception, wrapper.stacktrace)
    assert copy == wrapper and copy.type == "builtins.KeyError" and copy.exception == "'missing'"
    empty = MetaflowExceptionWrapper()
    empty.type, empty.exception, empty.stacktrace = "x.Y", "msg", None
    assert str(empty) == "[no stacktrace]\nx.Y: msg"


def test_a_pickle_written_by_metaflow_loads_as_flowcs_wrapper(monkeypatch):
    """A wrapper pickled by Metaflow names ``metaflow.exception.MetaflowExceptionWrapper``;
    inside flowc's runtime that module is flowc's, so the artifact loads with its attributes."""
    fake = types.ModuleType("metaflow.exception")

    class MetaflowExceptionWrapper(Exception):  # stands in for Metaflow's class at dump time
        def __reduce__(self):
            return type(self), (None,), self.__dict__

    MetaflowExceptionWrapper.__module__ = "metaflow.exception"
    MetaflowExceptionWrapper.__qualname__ = "MetaflowExceptionWrapper"
    fake.MetaflowExceptionWrapper = MetaflowExceptionWrapper
    monkeypatch.setitem(sys.modules, "metaflow.exception", fake)
    theirs = MetaflowExceptionWrapper()
    theirs.__dict__.update(type="builtins.ValueError", exception="boom", stacktrace="Traceback ...")
    data = pickle.dumps(theirs, protocol=4)
    from flowc.runtime_shim.loader import install_metaflow_alias

    install_metaflow_alias()
    ours = pickle.loads(data)
    assert type(ours) is exceptions.MetaflowExceptionWrapper
    assert (ours.type, ours.exception, ours.stacktrace) == ("builtins.ValueError", "boom", "Traceback ...")


def test_metaflow_names_importable_from_every_spelling():
    import flowc.exception as singular

    for name in ("MetaflowException", "MetaflowNotFound", "MetaflowNamespaceMismatch",
                 "MetaflowInternalError", "MetaflowInvalidPathspec", "MetaflowTaggingError",
                 "MetaflowExceptionWrapper", "UnhandledInMergeArtifactsException",
                 "MissingInMergeArtifactsException", "TimeoutException"):
        assert getattr(singular, name) is getattr(exceptions, name)
        assert issubclass(getattr(exceptions, name), Exception)
    assert issubclass(exceptions.MetaflowNotFound, MetaflowException)
    err = MetaflowException("bad thing", lineno=12)
    assert str(err) == "line 12: bad thing" and err.message == "bad thing" and err.line_no == 12
    assert str(MetaflowException("plain")) == "plain"


def test_client_raises_metaflows_exceptions(tmp_path):
    path = write_flow(tmp_path, CATCH_FLOW)
    root = str(tmp_path / "ds")
    drive(path, root)
    with pytest.raises(MetaflowNotFound):
        Flow("Nope", root)
    with pytest.raises(MetaflowNotFound):
        Run("CatchFlow/no-such-run", root)
    with pytest.raises(MetaflowNotFound):
        Run("CatchFlow/r1", root)["nope"]
    with pytest.raises(MetaflowNotFound):
        Task("CatchFlow/r1/end/t", root)["nope"]
    with pytest.raises(MetaflowInvalidPathspec):
        Run("CatchFlow", root)
    with pytest.raises(MetaflowInvalidPathspec):
        Task("CatchFlow/r1/end", root)
