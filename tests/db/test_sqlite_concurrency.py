"""SQLite as `make run` uses it: the web, a worker and the cron write at once and none of them fails.

Real threads on the test run's SQLite file, each with its own connection (committed tier): logins writing
their attempts while a "worker" reads, then writes, then commits in a loop, as jobs do.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from portal.auth.models import LoginAttempt, User
from portal.extensions import db
from tests.factories import UserFactory

pytestmark = pytest.mark.committed

ROUNDS = 15


@pytest.fixture(autouse=True)
def _sqlite_only(app):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite's locking (PostgreSQL has row locks and its own tests)")


def test_logins_and_a_worker_writing_at_once_never_fail(app, committed):
    with committed() as session:
        UserFactory(email="ana@example.test", name="Ana")
        session.flush()
        worker_id = UserFactory(email="worker@example.test", name="0").id
    failures: list[str] = []
    start = threading.Barrier(4)

    def web() -> None:
        client = app.test_client()
        start.wait()
        for _ in range(ROUNDS):
            response = client.post("/login", data={"email": "ana@example.test", "password": "wrong"})
            if response.status_code not in (422, 429):
                failures.append(f"login answered {response.status_code}")

    def worker() -> None:
        """Read, think, write, commit: what a job does (a sync message, a run's progress)."""
        start.wait()
        for _ in range(ROUNDS * 2):
            try:
                with app.app_context():
                    user = db.session.get(User, worker_id, with_for_update=True)  # as on PostgreSQL
                    count = int(user.name)
                    time.sleep(0.002)
                    user.name = str(count + 1)
                    db.session.commit()
            except Exception as error:  # noqa: BLE001 - any failure is the finding
                failures.append(f"worker: {error!r}")

    threads = [threading.Thread(target=web) for _ in range(2)] + [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures[:5]
    with app.app_context():
        assert db.session.scalar(select(User.name).where(User.id == worker_id)) == str(ROUNDS * 4)
        attempts = db.session.scalars(select(LoginAttempt).where(LoginAttempt.email == "ana@example.test")).all()
        assert len(attempts) >= 5  # throttling counted them (later ones are refused before writing)
