"""The real `python worker.py` processes against this run's database and Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from sqlalchemy import select

from portal import ROOT, jobs, mail, queue
from portal.mail import OutboundEmail


def _environment(app) -> dict[str, str]:
    connection = queue.redis_connection(app)
    redis_url = app.config["REDIS_URL"] or f"unix://{connection.socket_file}"
    return {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "REDIS_URL": redis_url,
            "SECRET_KEY": app.config["SECRET_KEY"], "PORTAL_ENCRYPTION_KEY": app.config["PORTAL_ENCRYPTION_KEY"],
            "SMTP_HOST": app.config["SMTP_HOST"], "SMTP_PORT": str(app.config["SMTP_PORT"]),
            "MAIL_FROM": app.config["MAIL_FROM"]}


def _start(app, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "worker.py"), *args], cwd=ROOT, env=_environment(app),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _stop(process: subprocess.Popen) -> str:
    process.terminate()
    try:
        output, _ = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output


@pytest.mark.committed
def test_worker_process_sends_queued_email(app, committed, mailbox):
    with committed() as session, app.test_request_context():
        mail.queue_email(session, ["ops@example.test"], "From the worker", "test_message", "test", name="Ops")
    worker = _start(app)
    try:
        mailbox.wait_for(1, timeout=60)
    finally:
        output = _stop(worker)
    assert len(mailbox) == 1, output
    with committed() as session:
        assert session.scalar(select(OutboundEmail.status)) == "sent"


@pytest.mark.committed
def test_cron_process_registers_the_schedule(app):
    from rq.cron import CronScheduler

    from portal.cron import schedule

    scheduler = _start(app, "cron")
    try:
        deadline = time.monotonic() + 60
        registered = []
        while time.monotonic() < deadline and not registered:
            registered = CronScheduler.all(queue.redis_connection(app))
            time.sleep(0.2)
    finally:
        output = _stop(scheduler)
    assert registered, output
    for entry in schedule():  # the tools' entries too (start_time_syncs, the Procore catch-up)
        assert f"Registered '{entry.func}'" in output and entry.cron in output


def test_the_worker_settles_the_garbage_collector_before_its_first_job(app):
    """The warm app is frozen out of the collector's sight and young objects are collected less often
    (portal.jobs.settle), in a process of its own: this one's collector is left as it is."""
    script = ("import gc, json\n"
              "from portal import create_app, jobs\n"
              "jobs.bind_app(create_app())\n"
              "before = (gc.get_freeze_count(), gc.get_threshold())\n"
              "jobs.settle()\n"
              "print(json.dumps([before, (gc.get_freeze_count(), gc.get_threshold())]))\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=_environment(app), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    (frozen_before, threshold_before), (frozen, threshold) = json.loads(done.stdout.strip().splitlines()[-1])
    assert frozen_before == 0 and frozen > 50_000  # the app's objects, not a handful
    assert threshold_before[0] < jobs.YOUNG_GENERATION  # Python's default: 700 (2,000 from 3.13)
    assert threshold == [jobs.YOUNG_GENERATION, *threshold_before[1:]]
