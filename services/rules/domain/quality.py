"""Implausible figures questioned before detection (docs/contract.md §7, DHIS2's outlier checks): pure.

Each indicator of a report is checked against the enterprise's own earlier reports: with at
least `min_history` of them, a value above `factor` × or below 1/`factor` of the median of the
last `window`, or with a modified z-score (0.6745 × deviation / median absolute deviation)
above `z_max`, is implausible. An admin's range for the enterprise and indicator (registry kind
`indicator_range`) replaces the learned one. A value at the level of the one questioned in the
enterprise's previous report confirms that level: it is not questioned again.
"""

from dataclasses import dataclass
from typing import Any

from services.rules.domain.thresholds import Thresholds

MAD_SCALE = 0.6745  # Iglewicz and Hoaglin's modified z-score


@dataclass(frozen=True)
class OutlierSettings:
    factor: float
    z_max: float
    min_history: int
    window: int
    confirm_within: float  # a value within this factor of the questioned one confirms its level

    @classmethod
    def of(cls, thresholds: Thresholds) -> "OutlierSettings":
        """The `data_quality` settings of the rules file."""

        def value(name: str) -> Any:
            return thresholds.get("data_quality", name).value

        return cls(
            factor=value("outlier_factor"),
            z_max=value("modified_z_max"),
            min_history=value("min_history_reports"),
            window=value("window_reports"),
            confirm_within=value("confirm_within_factor"),
        )


@dataclass(frozen=True)
class Finding:
    indicator: str
    value: float
    expected_min: float | None
    expected_max: float | None
    basis: str  # "history" (learned) or "admin" (an indicator range)
    median: float | None = None
    z_score: float | None = None

    def as_dict(self) -> dict[str, Any]:
        found = {
            "indicator": self.indicator,
            "value": self.value,
            "expected_min": self.expected_min,
            "expected_max": self.expected_max,
            "basis": self.basis,
        }
        if self.median is not None:
            found["median"] = self.median
        if self.z_score is not None:
            found["z_score"] = self.z_score
        return found


def _median_of_sorted(ordered: list[float]) -> float:
    half = len(ordered) // 2
    return ordered[half] if len(ordered) % 2 else (ordered[half - 1] + ordered[half]) / 2


def centre(values: list[float]) -> tuple[float, float]:
    """(median, median absolute deviation) of the values. Sorted once each, without the
    statistics module's checks: the check runs for every indicator of every report, and its
    cost is held under 5 % of rules' throughput (issue 38.6, `make bench-rules`)."""
    middle = _median_of_sorted(sorted(values))
    return middle, _median_of_sorted(sorted([abs(v - middle) for v in values]))


def learned_range(
    values: list[float], settings: OutlierSettings, known: tuple[float, float] | None = None
) -> tuple[float | None, float | None, float, float]:
    """(min, max, median, MAD) of the plausible values, from earlier ones (`known`: their
    median and MAD, when the caller has them already)."""
    middle, mad = known if known is not None else centre(values)
    low: float | None = None
    high: float | None = None
    if middle > 0:
        low, high = middle / settings.factor, middle * settings.factor
    if mad > 0:
        spread = settings.z_max * mad / MAD_SCALE
        low = middle - spread if low is None else max(low, middle - spread)
        high = middle + spread if high is None else min(high, middle + spread)
    return low, high, middle, mad


def check(
    indicators: dict[str, float],
    history: list[dict[str, float]],
    *,
    ranges: dict[str, tuple[float | None, float | None]],
    confirming: dict[str, float],
    settings: OutlierSettings,
) -> list[Finding]:
    """The implausible values of one report. `history`: the indicators of earlier reports, oldest
    first; `ranges`: the admin's ranges by indicator; `confirming`: the values questioned in the
    enterprise's previous report, by indicator (a value at their level is confirmed)."""
    findings = []
    for name, value in sorted(indicators.items()):
        if name in confirming and same_level(value, confirming[name], settings.confirm_within):
            continue
        if name in ranges:
            low, high = ranges[name]
            if (low is not None and value < low) or (high is not None and value > high):
                findings.append(Finding(name, value, low, high, "admin"))
            continue
        earlier = [v for h in history if (v := h.get(name)) is not None][-settings.window :]
        if len(earlier) < settings.min_history:
            continue
        middle, mad = centre(earlier)
        z = MAD_SCALE * (value - middle) / mad if mad > 0 else None
        by_ratio = (
            middle > 0
            and value >= 0
            and (value > settings.factor * middle or value < middle / settings.factor)
        )
        by_z = z is not None and abs(z) > settings.z_max
        if by_ratio or by_z:  # the expected range is worked out only for a finding
            low, high, _, _ = learned_range(earlier, settings, known=(middle, mad))
            findings.append(
                Finding(
                    name,
                    value,
                    _round(low),
                    _round(high),
                    "history",
                    median=middle,
                    z_score=None if z is None else round(z, 2),
                )
            )
    return findings


def same_level(value: float, questioned: float, within: float) -> bool:
    if questioned == 0 or value == 0:
        return value == questioned
    if (value > 0) != (questioned > 0):
        return False
    ratio = value / questioned
    return 1 / within <= ratio <= within


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
