"""Extensions, created bare and bound to the app by `init_app` in the factory."""

from __future__ import annotations

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

# Predictable constraint names so Alembic can drop and alter them (batch mode on SQLite needs names).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# join_transaction_mode: changes nothing in production; when a test binds the session to a connection
# that is already inside a transaction, the app's commits and rollbacks become savepoints.
db = SQLAlchemy(model_class=Base, session_options={"join_transaction_mode": "create_savepoint"})
migrate = Migrate(render_as_batch=True, compare_type=True)
login_manager = LoginManager()
csrf = CSRFProtect()


@event.listens_for(Engine, "connect")
def _sqlite_connect(dbapi_connection, connection_record):
    """Make SQLite behave like a database shared by web, worker and cron: foreign keys, WAL (readers never wait
    for the writer), a busy timeout (a writer waits its turn instead of failing), and transactions SQLAlchemy
    controls (pysqlite's own implicit BEGIN breaks SAVEPOINTs; SQLAlchemy's documented recipe turns it off).
    """
    if type(dbapi_connection).__module__ != "sqlite3":
        return
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


SQLITE_BUSY_TIMEOUT_MS = 30_000


@event.listens_for(Engine, "before_cursor_execute")
def _sqlite_write_lock(conn, cursor, statement, parameters, context, executemany):
    """On SQLite a transaction takes the write lock (BEGIN IMMEDIATE) at its first write, or at its first
    SELECT ... FOR UPDATE (PostgreSQL's row lock, which SQLite does not have). Reads before that see the latest
    committed data, as in PostgreSQL's read committed.

    A transaction begun as a reader (plain BEGIN) that later writes fails at once with "database is locked"
    when anyone else committed meanwhile (SQLite cannot upgrade a stale snapshot, and no busy timeout helps):
    that is how a login failed while a worker wrote. Taking the lock before the first write makes the writer
    wait its turn instead, and holding it from a FOR UPDATE read keeps read-modify-write safe.
    """
    if conn.dialect.name != "sqlite":
        return
    dbapi_connection = conn.connection.dbapi_connection
    if dbapi_connection.in_transaction or statement.startswith(("BEGIN", "COMMIT", "ROLLBACK")):
        return
    if statement.lstrip()[:6].upper() == "SELECT" and not _locks(context):
        return
    dbapi_connection.execute("BEGIN IMMEDIATE")


def _locks(context) -> bool:
    compiled = getattr(context, "compiled", None)
    return getattr(getattr(compiled, "statement", None), "_for_update_arg", None) is not None
