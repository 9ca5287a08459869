"""The rules' domain: what a report means, as pure functions and values.

Detectors (problems, detectors, production_detectors, stated_problems, history), cases, alerts
and their routes, measures, reporting completeness, the regions' growth, data quality, and the
thresholds. Nothing here reads or writes Kafka, a database or the network, or keeps time of its
own: the runtime (services/rules/*.py: the app, its agents, consumer, producer, tables) calls it.
tests/rules/unit/test_domain_boundary.py holds it to that.
"""
