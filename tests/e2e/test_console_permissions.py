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


def test_an_enterprise_token_is_refused_with_a_message():
    with httpx.Client(base_url=CONSOLE, timeout=15) as client:
        page = client.post("/login", data={"token": token_for("enterprise", "chalco-qinghai")})
        assert page.status_code == 200 and "企业令牌只能报送" in page.text
        assert str(client.get("/inbox", follow_redirects=True).url).endswith("/login")  # no session


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
