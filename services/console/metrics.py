from prometheus_client import Counter

REPORTS_STORED = Counter(
    "liaison_console_reports_total",
    "Enterprise reports read from liaison.reports.v1 for the trend charts, by outcome "
    "(stored, duplicate, unusable).",
    ["outcome"],
)
SIGN_INS = Counter(
    "liaison_console_sign_ins_total",
    "Sign-in attempts, by outcome (ok, refused).",
    ["outcome"],
)
UPSTREAM_ERRORS = Counter(
    "liaison_console_upstream_errors_total",
    "Calls to notify or the registry that failed, by upstream.",
    ["upstream"],
)
