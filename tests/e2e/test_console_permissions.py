"""Who may use the console, and which pages (against the console `make up` runs)."""

import httpx
import pytest

from liaison_client.local import local_admin_token

pytestmark = pytest.mark.integration
CONSOLE = "http://127.0.0.1:8005"
REGISTRY = "http://127.0.0.1:8002"


def token_for(subject_type: str, subject_id: str) -> str:
    answer = httpx.post(f"{REGISTRY}/v1/tokens", json={"subject_type": subject_type, "subject_id": subject_id},
                        headers={"Authorization": f"Bearer {local_admin_token()}"}, timeout=10)  # fmt: skip
    assert answer.status_code == 201, answer.text
    return str(answer.json()["token"])


def signed_in(token: str) -> httpx.Client:
    client = httpx.Client(base_url=CONSOLE, timeout=15)
    client.post("/login", data={"token": token})
    return client


def test_an_enterprise_liaison_signs_in_to_its_data_queries_and_nothing_else():
    """docs/contract.md §7 (issue 38.3): the liaison reads and corrects its own queried figures; the
    pages that triage cases stay the groups'."""
    with httpx.Client(base_url=CONSOLE, timeout=15) as client:
        page = client.post(
            "/login", data={"token": token_for("enterprise", "chalco-qinghai")}, follow_redirects=True
        )
        assert page.status_code == 200 and str(page.url).endswith("/queries")
        assert "数据核查" in page.text
        for group_page in ("/inbox", "/overview", "/silences", "/enterprises/chalco-qinghai", "/rates"):
            refused = client.get(group_page)
            assert refused.status_code == 403 and "数据核查" in refused.text, group_page
    # And a group is sent away from the liaisons' page.
    group = signed_in(token_for("group", "finance"))
    try:
        assert group.get("/queries").status_code == 403
    finally:
        group.close()


@pytest.mark.parametrize(
    ("subject_type", "subject_id", "overview"),
    [
        ("group", "comprehensive", 200),
        ("admin", "admin", 200),
        ("group", "finance", 403),
        ("work_group", "wg-rail", 403),
    ],
)
def test_the_overview_is_for_the_comprehensive_group_and_the_admin(subject_type, subject_id, overview):
    token = local_admin_token() if subject_type == "admin" else token_for(subject_type, subject_id)
    client = signed_in(token or "")
    try:
        assert client.get("/inbox").status_code == 200
        assert client.get("/overview").status_code == overview
        assert client.get("/enterprises/chalco-qinghai").status_code == 200  # every official may see trends
    finally:
        client.close()
