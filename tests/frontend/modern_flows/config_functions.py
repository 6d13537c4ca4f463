"""config_expr calling functions of the flow's module, evaluated in its globals (Metaflow 2.19)."""
from metaflow import Config, FlowSpec, config_expr, current, environment, project, resources, step

PREFIX = "team"


def project_name(cfg):
    return f"{PREFIX}_{cfg.name}".lower()


def cpus(cfg):
    return cfg.size * 2


@project(name=config_expr("project_name(cfg)"))
class ConfigFunctionsFlow(FlowSpec):
    cfg = Config("cfg", default_value={"name": "Alpha", "size": 3})

    @resources(cpu=config_expr("cpus(cfg)"))
    @environment(vars={"LABEL": config_expr("project_name(cfg).upper()")})
    @step
    def start(self):
        import os

        self.project = current.project_name
        self.label = os.environ.get("LABEL")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ConfigFunctionsFlow()
