"""A class that is not a FlowSpec subclass."""
# E@file: FLOW004
from metaflow import step


class NotAFlow:
    @step
    def start(self):
        pass
