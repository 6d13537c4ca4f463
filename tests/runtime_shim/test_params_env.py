"""FLOWC_PARAMS: the JSON object of parameter values engines without a variable argv pass."""

from __future__ import annotations

import pytest

from flowc.exceptions import ParameterError
from flowc.runtime_shim.params import params_from_environment


def test_strings_stay_command_line_text_and_other_values_become_json():
    text = '{"who": "ann", "count": 5, "ratio": 0.25, "verbose": true, "options": {"depth": 3}, "unset": null}'
    assert params_from_environment(text) == {
        "who": "ann", "count": "5", "ratio": "0.25", "verbose": "true", "options": '{"depth": 3}'}


@pytest.mark.parametrize("text", ["", "  ", None])
def test_absent_means_no_values(text):
    assert params_from_environment(text) == {}


@pytest.mark.parametrize("text, message", [("[1]", "JSON object"), ("{nope", "not valid JSON")])
def test_malformed_values_are_one_clear_error(text, message):
    with pytest.raises(ParameterError, match=message):
        params_from_environment(text)
