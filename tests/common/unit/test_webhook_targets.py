"""Issue 35.8: webhook targets are judged as the HTTP client will read them, not by spelling."""

import ipaddress

import pytest

from liaison_common.webhooks import address_problem, webhook_target_problem


@pytest.mark.parametrize(
    "target",
    [
        "http://2130706433/", "http://0x7f000001/", "http://127.1/", "http://0/", "http://localhost./",
        "http://[::ffff:127.0.0.1]/", "http://metadata.google.internal./", "http://100.100.100.200/",
        "http://100.64.0.1/", "http://169.254.169.254/latest", "http://10.0.0.1/", "http://[::1]/",
    ],
)  # fmt: skip
def test_inside_addresses_in_any_spelling_are_refused(target):
    assert webhook_target_problem(target, allow_private=False) is not None
    assert webhook_target_problem(target, allow_private=True) is None  # a local installation


def test_public_addresses_and_names_pass_the_write_time_check():
    assert webhook_target_problem("https://93.184.216.34/hook", allow_private=False) is None
    assert webhook_target_problem("https://hooks.example.org/x", allow_private=False) is None


def test_what_a_name_resolves_to_is_judged_as_an_address():
    assert address_problem(ipaddress.ip_address("::ffff:10.1.2.3")) is not None
    assert address_problem(ipaddress.ip_address("8.8.8.8")) is None
