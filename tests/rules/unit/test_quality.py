"""Implausible figures (docs/contract.md §7, DHIS2's outlier checks) at their boundaries."""

import pytest

from services.rules.domain.quality import OutlierSettings, check, learned_range
from services.rules.domain.thresholds import Thresholds

T = Thresholds.load()
SETTINGS = OutlierSettings.of(T)


def questioned(value: float, earlier: list[float], **options) -> list[str]:
    history = [{"sales_t": v} for v in earlier]
    options = {"ranges": {}, "confirming": {}, **options}
    return [f.indicator for f in check({"sales_t": value}, history, settings=SETTINGS, **options)]


def test_the_settings_are_the_contracts():
    assert (SETTINGS.factor, SETTINGS.z_max, SETTINGS.min_history, SETTINGS.window) == (10, 5, 4, 8)


@pytest.mark.parametrize(("earlier", "asked"), [(3, False), (4, True), (8, True)])
def test_at_least_four_earlier_reports_are_needed(earlier, asked):
    assert bool(questioned(200_000, [2000] * earlier)) is asked


def test_exactly_ten_times_the_median_is_plausible_and_above_it_is_not():
    assert questioned(20_000, [2000] * 4) == []
    assert questioned(20_001, [2000] * 4) == ["sales_t"]
    assert questioned(200, [2000] * 4) == []  # exactly a tenth
    assert questioned(199, [2000] * 4) == ["sales_t"]


def test_only_the_last_eight_reports_make_the_median():
    # Twelve reports: four old ones at 100, then eight at 5,000. 40,000 is 8x the recent median.
    assert questioned(40_000, [100] * 4 + [5000] * 8) == []


def test_a_modified_z_score_above_five_is_implausible():
    earlier = [1000, 1010, 990, 1000, 1005]  # median 1000, MAD 5: z = 0.6745 * 30 / 5 = 4.0
    assert questioned(1030, earlier) == []
    assert questioned(1040, earlier) == ["sales_t"]  # z = 5.4
    _low, high, middle, mad = learned_range(earlier, SETTINGS)
    assert (middle, mad) == (1000, 5) and high is not None and round(high, 1) == 1037.1


def test_an_admin_range_replaces_the_learned_one_wider_or_narrower():
    wider = {"sales_t": (0.0, 500_000.0)}
    assert questioned(200_000, [2000] * 8, ranges=wider) == []
    narrower = {"sales_t": (1500.0, 2500.0)}
    assert questioned(3000, [2000] * 8, ranges=narrower) == ["sales_t"]
    assert questioned(3000, [2000] * 2, ranges=narrower) == ["sales_t"]  # no history needed


def test_a_value_at_the_questioned_level_confirms_it():
    assert questioned(190_000, [2000] * 8, confirming={"sales_t": 200_000}) == []
    assert questioned(2000, [2000] * 8, confirming={"sales_t": 200_000}) == []  # plausible anyway
    assert questioned(90_000, [2000] * 8, confirming={"sales_t": 200_000}) == ["sales_t"]
