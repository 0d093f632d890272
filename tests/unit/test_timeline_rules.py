"""Timeline status rules (PORTAL_SPEC A7.8) and the bulk request checks (API_SPEC 4.6), no browser."""
from __future__ import annotations

import pytest

from emodal.api.containers import ContainerRequest, GetContainersRequest, GetInfoBulkRequest
from emodal.api.schemas import parse
from emodal.config import Settings
from emodal.errors import InvalidContainerNumber, InvalidField, MissingFields
from emodal.operations.bulk import unique
from emodal.operations.timeline import timeline_body
from emodal.portal.timeline import divider_completed, milestones
from emodal.sandbox.iso6346 import container_number


@pytest.mark.parametrize("classes,completed", [
    ("timeline-divider dividerflowcolor", True),
    ("dividerflowcolor timeline-divider ng-star-inserted", True),
    ("timeline-divider horizontalconflow", False),
    ("timeline-divider dividerflowcolor2", False),          # the substring trap
    ("timeline-divider dividerflowcolor horizontalconflow", False),
    ("timeline-divider", False),
    (None, False),
])
def test_divider_completed(classes: str | None, completed: bool) -> None:
    assert divider_completed(classes) is completed


def test_body_keeps_order_and_finds_pregate() -> None:
    raw = [
        {"name": "Departed Terminal", "date": "10/08/2025 14:22", "divider": "timeline-divider dividerflowcolor"},
        {"name": "Pregate", "date": "N/A", "divider": "timeline-divider dividerflowcolor"},
        {"name": "Last Free Day", "date": "10/05/2025", "divider": "timeline-divider horizontalconflow"},
    ]
    body = timeline_body(milestones(raw))
    assert [m["milestone"] for m in body["timeline"]] == ["Departed Terminal", "Pregate", "Last Free Day"]
    assert body["milestone_count"] == 3
    assert body["passed_pregate"] is True
    assert body["pregate_status"] == "completed"
    assert body["pregate_date"] == "N/A"
    assert body["detection_method"] == "dom_class_check"
    assert body["timeline"][2]["status"] == "pending"


def test_no_pregate_milestone_gives_null() -> None:
    body = timeline_body(milestones([{"name": "Loaded", "date": None, "divider": "timeline-divider horizontalconflow"}]))
    assert body["passed_pregate"] is None and body["pregate_status"] is None
    assert body["timeline"] == [{"milestone": "Loaded", "date": "N/A", "status": "pending"}]


def test_row_without_details_gives_an_empty_timeline() -> None:
    assert timeline_body([]) == {"passed_pregate": None, "pregate_status": None, "pregate_date": None,
                                 "timeline": [], "milestone_count": 0, "detection_method": "dom_class_check"}


def test_unique_keeps_request_order() -> None:
    assert unique(["B", "A", "B", "C", "A"]) == ["B", "A", "C"]
    assert unique(None) == []


# --- request models (checks run before any login) ------------------------------------------------
S = Settings()


def test_bulk_needs_one_list() -> None:
    with pytest.raises(MissingFields) as info:
        parse(GetInfoBulkRequest, {"session_id": "x", "import_containers": [], "export_containers": []}, S)
    assert info.value.message == "At least one of 'import_containers' or 'export_containers' must be provided"


def test_bulk_limit_counts_both_lists() -> None:
    settings = Settings(bulk_max_containers=3)
    body = {"import_containers": ["MSCU5165756", "TCLU3648865"], "export_containers": ["MSDU5772413", "TRHU1866154"]}
    with pytest.raises(InvalidField) as info:
        parse(GetInfoBulkRequest, body, settings)
    assert info.value.details["max"] == 3


def test_bulk_default_cap_is_200_and_refuses_a_longer_list_whole() -> None:
    # The dispatcher sends every filtered container at once (56 on the sandbox account; v1 had no cap).
    assert S.bulk_max_containers == 200
    numbers = [n for serial in range(1000, 1300) if (n := container_number("MSCU", serial)) is not None]
    params = parse(GetInfoBulkRequest, {"import_containers": numbers[:150], "export_containers": numbers[150:200]}, S)
    assert len(params["import_containers"]) + len(params["export_containers"]) == 200
    with pytest.raises(InvalidField) as info:
        parse(GetInfoBulkRequest, {"import_containers": numbers[:150], "export_containers": numbers[150:201]}, S)
    assert info.value.message == "Too many containers: 201 (max 200)"
    assert info.value.details == {"field": "import_containers", "reason": "too_many", "max": 200}


def test_bulk_names_every_invalid_item() -> None:
    body = {"import_containers": ["MSCU5165756", "MSCU516575"], "export_containers": ["MSCU5165757"]}
    with pytest.raises(InvalidContainerNumber) as info:
        parse(GetInfoBulkRequest, body, S)
    invalid = info.value.details["invalid"]
    assert [(i["field"], i["reason"]) for i in invalid] == [("import_containers", "format"),
                                                          ("export_containers", "check_digit")]


def test_bulk_normalizes_items() -> None:
    params = parse(GetInfoBulkRequest, {"import_containers": ["mscu 516575-6"]}, S)
    assert params["import_containers"] == ["MSCU5165756"]
    assert params["export_containers"] == []


def test_timeline_alias_and_missing_message() -> None:
    assert parse(ContainerRequest, {"container": "tclu3648865"}, S)["container_id"] == "TCLU3648865"
    with pytest.raises(MissingFields) as info:
        parse(ContainerRequest, {"session_id": "abc"}, S)
    assert info.value.message == "Missing required field: container_id"


@pytest.mark.parametrize("body,field", [({"target_count": "abc"}, "target_count"),
                                        ({"target_count": 0}, "target_count"),
                                        ({"infinite_scrolling": 2}, "infinite_scrolling"),
                                        ({"format": "csv"}, "format")])
def test_containers_field_typing(body: dict, field: str) -> None:
    with pytest.raises(InvalidField) as info:
        parse(GetContainersRequest, body, S)
    assert info.value.details["field"] == field


def test_containers_defaults_and_strings() -> None:
    params = parse(GetContainersRequest, {"infinite_scrolling": "false", "target_count": "50",
                                       "return_url": "yes"}, S)
    assert params["infinite_scrolling"] is False and params["target_count"] == 50
    assert params["return_url"] is True and params["format"] == "xlsx"
