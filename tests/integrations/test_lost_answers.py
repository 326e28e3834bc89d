"""A create is never sent twice (issue 13 item 11): the shared HTTP client does not re-send a request that
creates something when its answer is lost, and each tool's connector looks the record up before creating
it again. The sandboxes carry out a request and then lose its answer (a gateway's 504). Procore's cases are
in procore/test_lost_answers.py."""

from __future__ import annotations

import httpx
import pytest

from portal.integrations.http import AnswerLost, ApiClient


def _client(answers: list, sent: list) -> ApiClient:
    """An ApiClient whose server answers from `answers` in turn (a status, or an exception to raise)."""

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.method)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(answer, json={"id": 1})

    return ApiClient("http://tool.test", transport=httpx.MockTransport(handler), sleep=lambda s: None,
                     backoff_base=0.01)


@pytest.mark.parametrize("lost", [502, 500, 504, httpx.ReadTimeout("read"), httpx.RemoteProtocolError("gone")])
def test_a_create_whose_answer_is_lost_is_not_sent_again(lost):
    sent: list[str] = []
    with pytest.raises(AnswerLost, match="may have carried out POST"):
        _client([lost, 201], sent).post("things", json={"name": "x"})
    assert sent == ["POST"]


@pytest.mark.parametrize("refused", [429, 503, httpx.ConnectError("refused")])
def test_a_create_refused_before_any_work_is_sent_again(refused):
    sent: list[str] = []
    assert _client([refused, 201], sent).post("things", json={}).status_code == 201
    assert sent == ["POST", "POST"]


def test_reads_and_declared_idempotent_posts_are_retried_as_before():
    sent: list[str] = []
    client = _client([502, 200, httpx.ReadTimeout("read"), 200], sent)
    assert client.get("things").status_code == 200
    assert client.request("POST", "search", json={}, idempotent=True).status_code == 200
    assert sent == ["GET", "GET", "POST", "POST"]


def test_create_once_looks_before_sending_again():
    sent: list[str] = []
    client = _client([502, 502, 201], sent)
    made: list[str] = []

    def find():  # the first attempt made nothing, the second did
        return made[0] if len(sent) >= 2 and made else None

    def send():
        try:
            return client.post("things", json={}).json()
        finally:
            if len(sent) == 2:
                made.append("made by the second attempt")

    assert client.create_once(send, find) == "made by the second attempt"
    assert sent == ["POST", "POST"]


# Toggl ------------------------------------------------------------------------------------------------

def test_a_provisioned_toggl_project_whose_answer_is_lost_exists_once(session, tool, admin, run_jobs):
    from portal.integrations import provisioning

    tool.sandbox._post("/_sandbox/faults", {"path": r".*/projects", "method": "POST", "lose_answer": True})
    offering = tool.offering(name="Platform build")
    run = provisioning.start_provision(session, admin, offering.id, tool.connection.id)
    session.commit()
    run_jobs()
    session.refresh(run)
    assert run.status == "succeeded", run.error
    made = [p for p in tool.sandbox.projects() if p["name"] == "Platform build"]
    assert len(made) == 1 and tool.link(session, offering).external_id == str(made[0]["id"])


def test_a_toggl_project_user_whose_answer_is_lost_exists_once(session, tool, admin, run_jobs):
    from portal.integrations import provisioning

    tool.sandbox._post("/_sandbox/faults", {"path": r".*/project_users", "method": "POST", "lose_answer": True})
    offering = tool.offering(people={"ana@example.test": None}, name="Data platform")
    run = provisioning.start_provision(session, admin, offering.id, tool.connection.id)
    session.commit()
    run_jobs()
    session.refresh(run)
    assert run.status == "succeeded", run.error
    team = tool.sandbox.project_users(tool.link(session, offering).external_id)
    assert sorted(pu["user_id"] for pu in team) == sorted({pu["user_id"] for pu in team})  # no one twice
    assert "ana@example.test" in tool.sandbox.team(tool.link(session, offering).external_id)
