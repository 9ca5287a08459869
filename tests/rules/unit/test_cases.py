"""Cases (docs/contract.md §6): one alert per problem of a subject while it lasts."""

from services.rules.domain.cases import CaseBook

WEEKS = ["2011-12-04", "2011-12-11", "2011-12-18", "2011-12-25", "2012-01-01", "2012-01-08", "2012-01-15"]


def test_a_problem_detected_week_after_week_is_one_case_with_its_first_period_as_id():
    book = CaseBook()
    updates = [book.detected("funding_gap", "huading-industrial", week) for week in WEEKS[:3]]
    assert {u.case_id for u in updates} == {"funding_gap.huading-industrial.2011-12-04"}
    assert [u.occurrences for u in updates] == [1, 2, 3]
    assert [u.change for u in updates] == ["opened", "updated", "updated"]
    assert updates[-1].last_period_end == "2011-12-18"


def test_a_redelivered_report_changes_nothing():
    book = CaseBook()
    book.detected("stockpile", "e", WEEKS[0])
    book.detected("stockpile", "e", WEEKS[1])
    again = book.detected("stockpile", "e", WEEKS[1])
    assert (again.change, again.occurrences) == ("repeat", 2)
    assert book.absent(set(), WEEKS[2]) == []
    assert book.absent(set(), WEEKS[2]) == []  # the same absent report again does not count twice


def test_two_reports_in_a_row_without_the_problem_resolve_it_and_it_reopens_within_four_weeks():
    book = CaseBook()
    opened = book.detected("funding_gap", "e", WEEKS[0])
    assert book.absent({"stockpile"}, WEEKS[1]) == []
    [resolved] = book.absent(set(), WEEKS[2])
    assert (resolved.case_id, resolved.change) == (opened.case_id, "resolved")
    assert book.absent(set(), WEEKS[3]) == []  # told once
    reopened = book.detected("funding_gap", "e", WEEKS[4])
    assert (reopened.case_id, reopened.change, reopened.occurrences) == (opened.case_id, "reopened", 2)


def test_a_detection_between_absences_restarts_the_count():
    book = CaseBook()
    book.detected("workforce_cut", "e", WEEKS[0])
    assert book.absent(set(), WEEKS[1]) == []
    book.detected("workforce_cut", "e", WEEKS[2])
    assert book.absent(set(), WEEKS[3]) == []
    assert [u.change for u in book.absent(set(), WEEKS[4])] == ["resolved"]


def test_the_same_problem_long_after_resolution_is_a_new_case():
    book = CaseBook()
    first = book.detected("power_shortage", "e", "2011-12-04")
    book.absent(set(), "2011-12-11")
    book.absent(set(), "2011-12-18")
    later = book.detected("power_shortage", "e", "2012-02-26")
    assert later.change == "opened" and later.case_id != first.case_id
    assert later.case_id == "power_shortage.e.2012-02-26"


def test_the_book_survives_the_table_as_plain_data():
    book = CaseBook()
    book.detected("stockpile", "e", WEEKS[0])
    restored = CaseBook(book.data)
    assert restored.detected("stockpile", "e", WEEKS[1]).occurrences == 2


def test_a_problem_seen_again_long_after_its_last_detection_is_a_new_case():
    book = CaseBook()
    old = book.detected("funding_gap", "e", "2011-12-18")
    new = book.detected("funding_gap", "e", "2019-01-13")  # no report in between
    assert new.change == "opened" and new.case_id == "funding_gap.e.2019-01-13" != old.case_id
    assert book.detected("funding_gap", "e", "2019-01-20").case_id == new.case_id


def test_a_case_resolved_by_data_reopens_for_four_weeks_after_its_resolution():
    book = CaseBook()
    opened = book.detected("funding_gap", "e", "2011-12-04")
    book.absent(set(), "2011-12-11")
    book.absent(set(), "2011-12-18")  # resolved on 12-18
    again = book.detected("funding_gap", "e", "2012-01-15")  # 28 days after the resolution
    assert (again.change, again.case_id) == ("reopened", opened.case_id)


def test_a_report_from_long_before_the_case_is_an_alert_of_its_own():
    book = CaseBook()
    current = book.detected("funding_gap", "e", "2019-01-13")
    old = book.detected("funding_gap", "e", "2013-02-03")
    assert (old.case_id, old.change) == ("funding_gap.e.2013-02-03", "historical")
    assert book.detected("funding_gap", "e", "2019-01-20").case_id == current.case_id
    assert book.absent(set(), "2013-02-10") == []  # an old report says nothing of today's case


def test_a_long_redelivery_after_a_crash_counts_nothing_twice():
    from datetime import date, timedelta

    weeks = [(date(2011, 12, 4) + timedelta(weeks=n)).isoformat() for n in range(40)]
    book = CaseBook()
    for week in weeks:
        book.detected("workforce_cut", "e", week)
    for week in weeks:  # the whole stream again, as after a kill before any commit
        assert book.detected("workforce_cut", "e", week).occurrences == 40
    book.absent(set(), "2012-09-09")
    book.absent(set(), "2012-09-16")  # resolved
    assert book.detected("workforce_cut", "e", weeks[20]).change == "repeat"  # old data reopens nothing


def test_last_winters_case_resolved_when_reports_resume_is_not_reopened_by_this_winters_problem():
    """Found by the fault suite: an enterprise's gap of December 2013, its reports resuming in
    January 2015 (two clean weeks resolve the old case), then a gap two weeks later. That is a
    new case, not the 2013 one reopened (days since the resolution are few, since the last
    detection more than a year)."""
    book = CaseBook()
    old = book.detected("funding_gap", "e", "2013-12-15")
    book.absent(set(), "2015-01-04")
    resolved = book.absent(set(), "2015-01-11")
    assert [r.change for r in resolved] == ["resolved"]
    new = book.detected("funding_gap", "e", "2015-01-25")
    assert new.change == "opened" and new.case_id == "funding_gap.e.2015-01-25" != old.case_id


def test_a_report_redelivered_after_its_case_was_replaced_is_a_repeat_of_that_case():
    """A worker that takes a partition over reads again from the last commit, with the table as
    the previous owner left it: maybe past a case's end and into a newer case of the same type
    (make bench-rebalance: six weeks with a funding gap, six without, then again)."""
    from datetime import date, timedelta

    weeks = [(date(2011, 12, 11) + timedelta(weeks=n)).isoformat() for n in range(14)]
    book = CaseBook()
    first_case = [book.detected("funding_gap", "e", week) for week in weeks[:6]][-1]
    for week in weeks[6:8]:
        book.absent(set(), week)
    second = book.detected("funding_gap", "e", weeks[12])
    assert second.change == "opened" and second.case_id != first_case.case_id

    again = book.detected("funding_gap", "e", weeks[4])  # redelivered: the first case's fifth week
    assert (again.case_id, again.change, again.occurrences) == (first_case.case_id, "repeat", 6)
    assert book.absent(set(), weeks[7]) == []  # its resolving report again: nothing new
    assert book.detected("funding_gap", "e", weeks[13]).occurrences == 2  # the new case goes on
    assert CaseBook(book.data).detected("funding_gap", "e", weeks[0]).case_id == first_case.case_id


def test_a_back_filled_week_inside_a_case_joins_it_and_counts_once():
    """Issue 37.13: cases follow event time. Weeks 1, 2 and 4 showed the problem; week 3's report
    arrives last (a back-fill) and shows it too: one case of four periods, whose redelivery
    counts nothing."""
    book = CaseBook()
    for week in (WEEKS[0], WEEKS[1], WEEKS[3]):
        book.detected("stockpile", "e", week)
    late = book.detected("stockpile", "e", WEEKS[2])
    assert (late.case_id, late.change, late.occurrences) == ("stockpile.e.2011-12-04", "updated", 4)
    assert late.last_period_end == WEEKS[3]  # the case's latest week is still the latest
    assert book.detected("stockpile", "e", WEEKS[2]).change == "repeat"
    assert book.detected("stockpile", "e", WEEKS[2]).occurrences == 4


def test_back_filled_weeks_from_long_before_the_case_make_one_case_of_their_own_not_one_a_week():
    """Issue 37.13: a quarter of old reports filled in after this winter's case began is one
    historical case (by the first back-filled week), never an alert per week."""
    book = CaseBook()
    current = book.detected("funding_gap", "e", "2019-01-13")
    old_weeks = ["2013-02-03", "2013-02-10", "2013-02-17", "2013-01-27"]
    updates = [book.detected("funding_gap", "e", week) for week in old_weeks]
    assert {u.case_id for u in updates} == {"funding_gap.e.2013-02-03"}
    assert [u.change for u in updates] == ["historical", "updated", "updated", "updated"]
    assert [u.occurrences for u in updates] == [1, 2, 3, 4]
    assert updates[-1].first_period_end == "2013-01-27" and updates[-1].last_period_end == "2013-02-17"
    assert book.detected("funding_gap", "e", "2013-02-10").change == "repeat"  # redelivered
    assert book.detected("funding_gap", "e", "2019-01-20").case_id == current.case_id
    # Another old stretch, months away from the first: a case of its own.
    assert book.detected("funding_gap", "e", "2014-06-01").case_id == "funding_gap.e.2014-06-01"


def test_a_back_fill_changes_the_book_and_never_the_stored_value_it_was_read_from():
    """The agent writes the table only when the book differs from what it read: a back-filled
    week that changed a case in place in the stored value would never be written."""
    import copy

    book = CaseBook()
    book.detected("funding_gap", "e", "2019-01-13")
    book.detected("funding_gap", "e", "2013-02-03")
    stored = copy.deepcopy(book.data)
    again = CaseBook(stored)
    again.detected("funding_gap", "e", "2013-02-10")
    assert again.data != stored and stored == book.data
