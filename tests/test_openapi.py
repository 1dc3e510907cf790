"""The OpenAPI document says exactly what the API accepts (issue 18)."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from app import timemath
from app.api.constraints import INSTANT_PATTERN, digit_range_pattern, timezone_names
from app.services import limits

CRON = {"name": "n", "taskFunction": "noop", "jobType": "cron"}


@pytest.fixture
def document(client):
    return client.get("/api/v1/openapi.json").json


def test_document_passes_openapi_spec_validator(document):
    validate(document)


def _operations(document):
    return {
        op["operationId"]: (path, op)
        for path, methods in document["paths"].items()
        for op in methods.values()
    }


def test_links_name_real_operations_and_their_path_parameters(document):
    operations = _operations(document)
    links = [
        link
        for _, op in operations.values()
        for response in op["responses"].values()
        for link in response.get("links", {}).values()
    ]
    assert len(links) >= 20
    for link in links:
        path, _ = operations[link["operationId"]]
        assert set(link["parameters"]) == set(re.findall(r"{(\w+)}", path))
        assert all(value.startswith("$response.body#/") for value in link["parameters"].values())


def test_every_operation_declares_the_http_servers_uri_too_long(document):
    # gunicorn answers 414 before Almanac sees the request: a page, so no JSON schema.
    for _, op in _operations(document).values():
        assert "content" not in op["responses"]["414"]
        assert "4,094" in op["responses"]["414"]["description"]


def test_created_job_links_to_everything_done_with_it(document):
    _, create = _operations(document)["create_job"]
    targets = {link["operationId"] for link in create["responses"]["201"]["links"].values()}
    assert targets == {"get_job", "put_job", "patch_job", "delete_job", "job_action", "job_history"}
    assert "jobTypeId" in create["description"]


@pytest.mark.parametrize(("low", "high"), [(1970, 9998), (0, 9999), (5, 123), (999, 1000)])
def test_digit_range_pattern_matches_exactly_the_range(low, high):
    regex = re.compile(f"^(?:{digit_range_pattern(low, high)})$")
    assert [n for n in range(10_000) if regex.match(f"{n:04d}")] == list(range(low, high + 1))


def test_instant_fields_state_the_years_the_server_accepts(document, api_as, editor):
    schemas = document["components"]["schemas"]
    since = schemas["RetryBulk"]["properties"]["since"]["anyOf"][0]
    assert since["format"] == "date-time" and since["pattern"] == INSTANT_PATTERN
    assert re.match(INSTANT_PATTERN, f"{timemath.MIN_YEAR}-01-01T00:00:00Z")
    assert not re.match(INSTANT_PATTERN, f"{timemath.MIN_YEAR - 1}-12-31T23:59:59Z")
    assert not re.match(INSTANT_PATTERN, f"{timemath.MAX_YEAR + 1}-01-01T00:00:00Z")
    response = api_as(editor).get("/history", query_string={"since": "1969-12-31T00:00:00Z"})
    assert response.status_code == 422


def test_an_instant_sent_as_a_number_is_refused(api_as, editor):
    response = api_as(editor).post("/retries/bulk", {"action": "discard", "until": 0})
    assert response.status_code == 422
    assert "2026-12-03" in response.json["error"]["fields"]["until"]
    query = api_as(editor).get("/history", query_string={"until": "1700000000"})
    assert query.status_code == 422
    assert "2026-12-03" in query.json["error"]["fields"]["until"]


@pytest.mark.parametrize("text", ["ok", "tab\there", "line\nbreak", "nul\x00", "bell\x07", "\x1f"])
def test_printable_pattern_agrees_with_the_check(document, text):
    pattern = document["components"]["schemas"]["JobAction"]["properties"]["reason"]["anyOf"][0]
    assert pattern["pattern"] == limits.PRINTABLE_PATTERN
    assert bool(re.match(limits.PRINTABLE_PATTERN, text)) is not limits.has_control_characters(text)


def test_timezones_are_one_shared_enum_of_zones_the_server_accepts(document):
    schemas = document["components"]["schemas"]
    assert schemas["Timezone"]["enum"] == timezone_names()
    assert schemas["PreviewRequest"]["properties"]["timezone"]["$ref"].endswith("/Timezone")
    assert "localtime" not in timezone_names()
    for name in timezone_names():
        timemath.parse_timezone(name)


def test_task_function_and_expression_are_documented(document):
    props = document["components"]["schemas"]["JobCreate"]["properties"]
    task = props["taskFunction"]["anyOf"][0]
    assert task["pattern"] and "/task-functions" in task["description"]
    cron = next(s for s in props["scheduleConfig"]["oneOf"] if s["title"] == "CronConfig")
    assert cron["properties"]["expression"]["minLength"] == 1


def test_whole_numbers_written_with_a_fraction_of_zero_are_accepted(api_as, editor, document):
    props = document["components"]["schemas"]["JobCreate"]["properties"]
    assert props["retryCount"]["anyOf"][0]["type"] == "integer"
    body = {"name": "n", "taskFunction": "noop", "scheduleConfig": {"seconds": 60}}
    response = api_as(editor).post("/jobs", body | {"retryCount": 55.0})
    assert response.status_code == 201, response.json
    assert response.json["retryCount"] == 55
    refused = api_as(editor).post("/jobs", body | {"retryCount": 55.5})
    assert refused.status_code == 422
    assert "retryCount" in refused.json["error"]["fields"]


def test_an_empty_cron_expression_is_refused_as_documented(api_as, editor):
    response = api_as(editor).post("/jobs", CRON | {"scheduleConfig": {"expression": ""}})
    assert response.status_code == 422


def test_a_malformed_ipv6_host_gets_a_plain_message(api_as, admin):
    response = api_as(admin).post("/webhooks", {"url": "http://[0]", "phase": "failed"})
    assert response.status_code == 422
    message = response.json["error"]["fields"]["url"]
    assert "IPv6 address such as" in message and "'[0]'" not in message


@pytest.mark.parametrize("method", ["TRACE", "PATCH"])
def test_unsupported_method_answers_405_with_allow(api_as, editor, method):
    response = api_as(editor).call(method, "/history")
    assert response.status_code == 405
    assert response.json["error"]["code"] == "method_not_allowed"
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


def test_a_page_answering_405_names_its_methods_too(client):
    response = client.open("/login", method="TRACE")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
