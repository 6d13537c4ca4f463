"""Values Metaflow computes when it imports a flow to deploy it: environment reads, extra
Parameter arguments, calls in fields no target reads, and the flow of a file with several."""

from __future__ import annotations

import textwrap

from flowc.compiler import ir
from flowc.compiler.render import dump

from .helpers import LINEAR_END, compile_text, errors_of, flow_with

START = """
        @step
        def start(self):
            self.next(self.end)
""" + LINEAR_END


def env_flow(decorator: str, header_extra: str = "", params: str = "") -> str:
    header = "import os\nfrom metaflow import FlowSpec, step, environment, kubernetes, Parameter\n" + header_extra
    steps = f"""
        {decorator}
        @step
        def start(self):
            self.next(self.end)
    """ + LINEAR_END
    return flow_with(steps, header=header, extra=params)


def test_getenv_with_and_without_default_reads_the_compiling_environment(monkeypatch):
    monkeypatch.setenv("FLOWC_T_IMAGE", "repo/image:1")
    monkeypatch.delenv("FLOWC_T_UNSET", raising=False)
    flow = compile_text(env_flow('@environment(vars={"A": os.getenv("FLOWC_T_IMAGE"), '
                                 '"B": os.environ.get("FLOWC_T_UNSET", "fallback"), '
                                 '"C": os.environ["FLOWC_T_IMAGE"]})')).flow
    assert flow.step("start").decorator(ir.Environment).vars == (
        ("A", "repo/image:1"), ("B", "fallback"), ("C", "repo/image:1"))
    records = {r.name: r for r in flow.evaluated}
    assert records["FLOWC_T_IMAGE"].kind == "environment"
    assert records["FLOWC_T_IMAGE"].detail == "= 'repo/image:1'"
    assert records["FLOWC_T_UNSET"].detail == "unset, default 'fallback'"


def test_aliased_imports_and_module_constants_from_the_environment(monkeypatch):
    monkeypatch.setenv("FLOWC_T_IMAGE", "img:2")
    flow = compile_text(env_flow("@kubernetes(image=IMAGE, namespace=ns)",
                                 header_extra="from os import getenv as ge, environ\n"
                                 "IMAGE = ge('FLOWC_T_IMAGE', 'x')\nns = environ.get('FLOWC_T_NS', 'default')\n"
                                 )).flow
    k8s = flow.step("start").decorator(ir.Kubernetes)
    assert (k8s.image, k8s.namespace) == ("img:2", "default")


def test_a_variable_of_another_module_named_os_is_not_the_environment():
    source = env_flow('@environment(vars={"A": os.getenv("HOME")})').replace("import os\n", "import mylib as os\n")
    (error,) = errors_of(source)
    assert error.code == "FLOW054"


def test_os_environ_subscript_of_an_unset_variable_is_a_diagnostic(monkeypatch):
    monkeypatch.delenv("FLOWC_T_UNSET", raising=False)
    (error,) = errors_of(env_flow('@environment(vars={"A": os.environ["FLOWC_T_UNSET"]})'))
    assert error.code == "FLOW054"
    assert "os.environ['FLOWC_T_UNSET'] is not set in the compiling environment" in error.message


def test_parameter_default_from_the_environment_is_a_literal(monkeypatch):
    monkeypatch.setenv("FLOWC_T_REGION", "eu-west-1")
    flow = compile_text(env_flow("", params='region = Parameter("region", default=os.getenv("FLOWC_T_REGION"))')).flow
    (param,) = flow.parameters
    assert (param.default_kind, param.default) == ("literal", "eu-west-1")


def test_secret_looking_values_never_show_in_the_dump(monkeypatch):
    monkeypatch.setenv("FLOWC_T_API_TOKEN", "s3cr3t-value")
    flow = compile_text(env_flow('@environment(vars={"TOKEN": os.getenv("FLOWC_T_API_TOKEN")})')).flow
    # the deployed spec carries it, as Metaflow's would
    assert flow.step("start").decorator(ir.Environment).vars == (("TOKEN", "s3cr3t-value"),)
    text = dump(flow)
    assert "s3cr3t-value" not in text
    assert "FLOWC_T_API_TOKEN: set (value not shown: the name looks secret)" in text
    assert "'<hidden>'" in text


def test_a_flow_without_environment_reads_records_nothing():
    flow = compile_text(flow_with(START)).flow
    assert flow.evaluated == () and flow.configs == () and flow.sources == ()
    assert '"evaluated"' not in ir.dump_manifest(flow)  # manifests of such flows are unchanged


def test_metaflow_pass_through_parameter_arguments_are_accepted():
    flow = compile_text(flow_with(START, header="from metaflow import FlowSpec, step, Parameter", extra="""
        debug = Parameter("debug", default=False, is_flag=True, envvar="DEBUG", help="x")
        data = Parameter("data", default="a", external_trigger=True, external_artifact=None)
    """)).flow
    assert [(p.name, p.type, p.default) for p in flow.parameters] == [("debug", "bool", False), ("data", "str", "a")]


def test_a_call_in_a_field_no_target_reads_is_a_warning_not_an_error():
    result = compile_text("""
        from metaflow import FlowSpec, step, conda_base
        from platform import python_version

        def get_python_version():
            return python_version()

        @conda_base(python=get_python_version(), packages={"numpy": "1.26"})
        class TestFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass
    """)
    conda = result.flow.decorator(ir.CondaBase)
    assert conda.python is None and conda.packages == (("numpy", "1.26"),)
    (warning,) = result.diagnostics
    assert warning.code == "FLOW086" and warning.severity == "warning"


def test_a_call_in_a_field_a_target_reads_is_still_an_error():
    source = env_flow("@kubernetes(image=pick())", header_extra="def pick():\n    return 'x'\n")
    (error,) = errors_of(source)
    assert error.code == "FLOW054"


SEVERAL = textwrap.dedent("""
    from metaflow import FlowSpec, step

    class BaseFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    class ChildFlow(BaseFlow):
        pass
""")


def test_the_flow_of_a_file_is_the_class_its_main_block_instantiates():
    flow = compile_text(SEVERAL + "\nif __name__ == '__main__':\n    ChildFlow()\n").flow
    assert flow.name == "ChildFlow" and flow.step_names == ("start", "end")
    assert compile_text(SEVERAL + '\nif "__main__" == __name__:\n    BaseFlow()\n').flow.name == "BaseFlow"


def test_several_flows_and_no_main_block_still_ask_for_flow():
    (error,) = errors_of(SEVERAL)
    assert error.code == "FLOW005"
    assert compile_text(SEVERAL, flow_name="BaseFlow").flow.name == "BaseFlow"
