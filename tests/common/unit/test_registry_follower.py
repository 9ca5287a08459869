"""Every service reads the registry topic from its start: no record may stop that."""

import json

from liaison_common.registry_follower import apply_record
from liaison_common.registry_view import RegistryView


def test_records_that_once_stopped_a_reader_are_skipped_and_the_good_ones_applied():
    view = RegistryView()
    good = {"entity_type": "enterprise", "id": "chalco-qinghai", "version": 1, "deleted": False,
            "data": {"id": "chalco-qinghai", "name": "中铝青海分公司"}}  # fmt: skip
    bad = [
        b"[" * 5000 + b"]" * 5000,  # RecursionError in json.loads
        b"\x00\xffnot json",
        json.dumps({"report_id": "x"}).encode("utf-16"),
        b'{"entity_type": 3}',
        None,
    ]
    for offset, value in enumerate([*bad, json.dumps(good).encode()]):
        apply_record(view, value, offset)
    assert view.count("enterprise") == 1
