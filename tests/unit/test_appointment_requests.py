"""Request parsing of the appointment routes (API_SPEC 4.7-4.9, 6.1) and the pure page helpers."""
from datetime import date

import pytest

from emodal.api.appointments import CheckAppointmentsRequest, GetAppointmentsRequest, MakeAppointmentRequest
from emodal.api.schemas import parse
from emodal.config import Settings
from emodal.errors import InvalidContainerNumber, InvalidField, MissingFields
from emodal.operations.appointment_flow import check_export_defaults, phase_data
from emodal.operations.my_appointments import row_has_token, row_object
from emodal.portal.appointment_wizard import confirmation_number, is_no_slots
from emodal.portal.datepicker import label_date as calendar_label_date

SETTINGS = Settings()
IMPORT = {"session_id": "s", "trucking_company": "B & T DRAYAGE LLC", "terminal": "Total Terminals Intl LLC",
          "move_type": "PICK FULL", "container_id": "tgbu 200002-6", "truck_plate": "9E51234"}


def test_make_without_fields_lists_the_v1_order():
    with pytest.raises(MissingFields) as exc:
        parse(MakeAppointmentRequest, {"username": "u", "password": "p", "captcha_api_key": "k",
                            "keep_browser_alive": True, "capture_screens": True}, SETTINGS)
    assert exc.value.message == ("Missing required fields: trucking_company, terminal, move_type, "
                                 "container_id, truck_plate, appointment_time")


def test_container_type_defaults_to_import_and_is_case_insensitive():
    assert parse(CheckAppointmentsRequest, IMPORT, SETTINGS)["container_type"] == "import"
    params = parse(CheckAppointmentsRequest, {**IMPORT, "container_type": "EXPORT", "booking_number": "RICFEM100200"}, SETTINGS)
    assert params["container_type"] == "export"
    with pytest.raises(InvalidField) as exc:
        parse(CheckAppointmentsRequest, {**IMPORT, "container_type": "both"}, SETTINGS)
    assert exc.value.message == "container_type must be 'import' or 'export'"


def test_move_type_must_be_a_configured_move():
    with pytest.raises(InvalidField) as exc:
        parse(CheckAppointmentsRequest, {**IMPORT, "move_type": "Import"}, SETTINGS)
    assert exc.value.details["allowed"] == list(SETTINGS.emodal_move_types)
    assert parse(CheckAppointmentsRequest, {**IMPORT, "move_type": "pick full"}, SETTINGS)["move_type"] == "PICK FULL"


def test_container_is_normalized_and_checked():
    assert parse(CheckAppointmentsRequest, IMPORT, SETTINGS)["container_id"] == "TGBU2000026"
    with pytest.raises(InvalidContainerNumber):
        parse(CheckAppointmentsRequest, {**IMPORT, "container_id": "TGBU2000027"}, SETTINGS)


def test_line_and_equip_size_replace_the_container():
    body = {**IMPORT, "container_id": None, "line": "MSC", "equip_size": "40DH"}
    assert parse(CheckAppointmentsRequest, body, SETTINGS)["container_id"] is None
    with pytest.raises(MissingFields) as exc:
        parse(CheckAppointmentsRequest, {**body, "equip_size": None}, SETTINGS)
    assert exc.value.details["missing"] == ["container_id"]


def test_export_needs_booking_unit_and_date_on_make():
    body = {**IMPORT, "container_type": "export", "container_id": None}
    with pytest.raises(MissingFields) as exc:
        parse(MakeAppointmentRequest, body, SETTINGS)
    assert exc.value.details["missing"] == ["booking_number", "unit_number", "appointment_date"]
    params = parse(MakeAppointmentRequest, {**body, "booking_number": "RICFEM100200", "unit_number": "MSCU5165756",
                                 "appointment_date": "11/25/2026"}, SETTINGS)
    assert params["appointment_date"] == date(2026, 11, 25) and params["appointment_time"] is None


def test_resume_needs_only_the_new_fields():
    params = parse(CheckAppointmentsRequest, {"session_id": "s", "appointment_session_id": "appt_1_x", "line": "MSC",
                                  "equip_size": "40DH"}, SETTINGS)
    assert params["trucking_company"] is None and params["line"] == "MSC"
    with pytest.raises(MissingFields) as exc:  # a booking always needs its time
        parse(MakeAppointmentRequest, {"session_id": "s", "appointment_session_id": "appt_1_x"}, SETTINGS)
    assert exc.value.details["missing"] == ["appointment_time"]


def test_wildcard_plate_only_on_checks_and_pin_is_digits():
    assert parse(CheckAppointmentsRequest, {**IMPORT, "truck_plate": "*"}, SETTINGS)["truck_plate"] == "*"
    with pytest.raises(InvalidField):
        parse(MakeAppointmentRequest, {**IMPORT, "truck_plate": "*", "appointment_time": "x"}, SETTINGS)
    with pytest.raises(InvalidField):
        parse(CheckAppointmentsRequest, {**IMPORT, "pin_code": "12a4"}, SETTINGS)


@pytest.mark.parametrize("raw,expected", [("ignore", None), ("yes", True), ("false", False), (True, True)])
def test_own_chassis_accepts_shell_booleans_and_ignore(raw, expected):
    assert parse(CheckAppointmentsRequest, {**IMPORT, "own_chassis": raw}, SETTINGS)["own_chassis"] is expected


def test_get_appointments_defaults_and_empty_target_is_absent():
    params = parse(GetAppointmentsRequest, {"session_id": "s", "target_appointment_id": ""}, SETTINGS)
    assert params["infinite_scrolling"] is True and params["format"] == "url"
    assert params["target_appointment_id"] is None
    with pytest.raises(InvalidField):
        parse(GetAppointmentsRequest, {"session_id": "s", "target_count": 0}, SETTINGS)


@pytest.mark.parametrize("fields,unit", [
    ({"container_id": "MSCU5165756", "container_number": "TCLU3648865"}, "MSCU5165756"),
    ({"container_number": "tclu 364886-5"}, "TCLU3648865"),
    ({"container_id": None, "container_number": ""}, "1"),
    ({}, "1"),
])
def test_export_check_unit_defaults_to_the_delivered_container(fields, unit):
    # API_SPEC 4.7: the portal refuses v1's "1" as the DROP FULL unit; the unit is the container.
    assert check_export_defaults(fields) == {"unit_number": unit, "seal_value": "1"}


def test_phase_data_masks_the_pin():
    echoed = phase_data({"terminal": "T", "pin_code": "1234", "appointment_date": date(2026, 1, 2), "debug": True})
    assert echoed == {"terminal": "T", "pin_code": "****", "appointment_date": "2026-01-02"}


# --- pure page helpers ----------------------------------------------------------------------------------
def test_no_slots_placeholder_with_or_without_bang():
    assert is_no_slots(["No Appointments Available"]) and is_no_slots(["No Appointments Available!"])
    assert not is_no_slots(["Friday 10/03/2025 13:00 - 16:00"])
    assert not is_no_slots([])


def test_calendar_labels_become_dates():
    assert calendar_label_date("October 24, 2025") == date(2025, 10, 24)
    assert calendar_label_date("not a day") is None


def test_confirmation_number_is_the_appointment_value_not_the_time():
    pairs = [("Appointment Time", "Tuesday 11/25/2025 09:00 - 10:00"), ("Appointment #", "TTI-1125-01234")]
    assert confirmation_number(pairs, []) == "TTI-1125-01234"
    blocks = ["Done.", "Appointment No.", "ITSLB-1125-00077", "Terminal", "ITS Long Beach"]
    assert confirmation_number([], blocks) == "ITSLB-1125-00077"
    assert confirmation_number([("Terminal", "ITS Long Beach")], ["Terminal", "ITS Long Beach"]) is None


def test_whole_token_match_and_row_objects():
    assert row_has_token(["TTI-1125-01234", "Tuesday"], "tti-1125-01234")
    assert not row_has_token(["TTI-1125-012345"], "TTI-1125-01234")
    assert row_object(["A", "B"], ["1", "2", "3"]) == {"A": "1", "B": "2", "column_3": "3"}
