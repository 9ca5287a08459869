"""The Chinese names an official reads for the platform's ids: problem types, channels and the
services that act on a case. Shared so that a route's reason (written by rules) and the console's
pages (issue 40.3) say the same words."""

PROBLEM_TYPE_LABELS = {
    "stockpile": "产品积压",
    "funding_gap": "资金缺口",
    "transport_backlog": "运输积压",
    "power_shortage": "电力短缺",
    "energy_overuse": "能耗超限",
    "growth_shortfall": "增速不达标",
    "production_halt": "停产减产",
    "workforce_cut": "裁员欠薪",
    "report_overdue": "报送逾期",
    "major_incident": "重大事件",
    "stated_problem": "企业反映问题",
    "data_query": "数据核查",
}

CHANNEL_LABELS = {"webhook": "Webhook 推送", "email": "电子邮件", "inbox": "收件箱"}

# Who wrote a line of a case's history when it was not a person: the platform's own services.
ACTOR_LABELS = {"rules": "预警规则", "notify": "通知服务", "ingest": "报送接收", "console": "控制台"}


def problem_type_label(problem_type: str) -> str:
    return PROBLEM_TYPE_LABELS.get(problem_type, problem_type)
