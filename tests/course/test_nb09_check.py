"""The notebook-09 check: right, partly right, wrong, garbage and raising answers."""

import copy
import json

from eda_sim.course.nb09.check import VIEW_V1, check_schema_evolution


def v2(**device):
    schema = copy.deepcopy(VIEW_V1)
    schema["properties"]["device"] = device or {"type": "string"}
    return schema


def test_right_an_optional_string_is_accepted_and_read_both_ways():
    for answer in (v2(), json.dumps(v2())):
        fb = check_schema_evolution(answer)
        assert fb.passed
        text = str(fb)
        assert "accepts v2 under FULL" in text
        assert "an old consumer reads a new event as {" in text and "'device': 'ios'" in text


def test_partly_right_required_device_is_refused_with_confluents_reason():
    answer = v2()
    answer["required"].append("device")
    fb = check_schema_evolution(answer)
    assert not fb.passed
    assert "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL" in str(fb) and "stuck?" in str(fb)


def test_wrong_answers_name_what_breaks():
    assert "not answered yet" in str(check_schema_evolution(VIEW_V1))  # the untouched starter
    no_price = {k: v for k, v in VIEW_V1.items() if k != "required"}
    assert "no 'device' property yet" in str(check_schema_evolution(no_price))
    uncovered = str(check_schema_evolution(v2(type="integer")))
    assert "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL" in uncovered
    closed = v2()
    closed["additionalProperties"] = False
    assert "ADDITIONAL_PROPERTIES_REMOVED" in str(check_schema_evolution(closed))


def test_garbage_is_explained():
    assert "got int" in str(check_schema_evolution(42))
    assert "not a valid JSON Schema" in str(check_schema_evolution("{nope"))
    assert "not a valid JSON Schema" in str(check_schema_evolution({"type": "objekt"}))
    assert "object schema" in str(check_schema_evolution("true"))


def test_a_raising_answer_is_reported_not_raised():
    class Boom(dict):
        def __iter__(self):
            raise RuntimeError("boom")

        items = keys = __iter__

    text = str(check_schema_evolution(Boom(a=1)))
    assert "raised RuntimeError: boom" in text
