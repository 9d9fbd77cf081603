"""Prebuilt statements run on the driver's connection, for the requests every learner makes.

SQLAlchemy's execution of a statement costs about 50 us here against a few for the driver's
own; on the progress beacon (two requests in three) and the user loader that was a fifth of
the request. `run` keeps SQLAlchemy's compiled SQL and type processors and skips the rest.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.dml import Insert


class Compiled:
    """A prebuilt statement as SQLAlchemy compiles it for one dialect, run on the driver.

    SQLAlchemy gives the SQL, the parameters' order and its type processors (JSON, timestamps),
    so values are stored and read exactly as through it; what is skipped is its per-execution
    machinery.
    """

    def __init__(self, statement: Any, dialect: Any, keys: list[str]) -> None:
        if isinstance(statement, Insert) and not statement.exported_columns:
            # No RETURNING the caller did not ask for (PostgreSQL's implicit one of the new id).
            statement = statement.inline()
        compiled = statement.compile(dialect=dialect, column_keys=keys)
        self.sql = compiled.string
        self.names: list[str] = list(compiled.positiontup or []) or list(compiled.binds)
        unknown = set(self.names) - set(keys)
        if unknown:  # a column default SQLAlchemy would have filled in: give it in `keys`
            raise RuntimeError(f"no value given for {sorted(unknown)} in {self.sql}")
        self.positional = bool(dialect.positional)
        self.binds = {
            name: processor
            for name in self.names
            if (
                processor := compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            )
        }
        self.dialect = dialect
        self.columns = list(statement.exported_columns)
        self.results: list[Any] | None = None  # from the first result's column types

    def run(self, connection: Connection, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Execute with `params` (by name) in the connection's transaction; the rows, if any."""
        binds = self.binds
        values = [binds[n](params[n]) if n in binds else params[n] for n in self.names]
        args: Any = values if self.positional else dict(zip(self.names, values, strict=True))
        raw: Any = connection.connection.dbapi_connection
        cursor = raw.cursor()
        try:
            try:
                cursor.execute(self.sql, args)
                rows = cursor.fetchall() if cursor.description is not None else []
            except self.dialect.loaded_dbapi.Error as error:
                if self.dialect.is_disconnect(error, raw, cursor):
                    connection.invalidate(error)
                raise DBAPIError.instance(
                    self.sql, args, error, self.dialect.loaded_dbapi.Error, dialect=self.dialect
                ) from error
            if not rows:
                return rows
            if self.results is None:
                self.results = [
                    column.type.dialect_impl(self.dialect).result_processor(self.dialect, d[1])
                    for column, d in zip(self.columns, cursor.description, strict=True)
                ]
            results = self.results
            return [
                tuple(p(v) if p else v for p, v in zip(results, row, strict=True)) for row in rows
            ]
        finally:
            cursor.close()


#: id(statement) -> (statement, {dialect name: its compiled form}); filled on first use, by any
#: thread (two compiling the same one at once get equal results). The entry holds the
#: statement, so its id cannot be reused while the entry exists; meant for module-level
#: statements, built once: a statement built per call would only fill this up.
_COMPILED: dict[int, tuple[Any, dict[str, Compiled]]] = {}


def run(connection: Connection, statement: Any, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Run a prebuilt statement in the connection's transaction, compiled once per dialect.

    :param connection: the session's connection (`db.session.connection()`).
    :param statement: a Core statement built once (a module constant), its parameters bound by
        name (`bindparam`, or the column keys of an INSERT or UPDATE).
    :param params: a value for each parameter, by name; the same names on every call.
    :returns: the result rows as tuples (none for a statement without RETURNING).
    """
    kept = _COMPILED.get(id(statement))
    if kept is None or kept[0] is not statement:
        kept = _COMPILED[id(statement)] = (statement, {})
    compiled = kept[1].get(connection.dialect.name)
    if compiled is None:
        compiled = Compiled(statement, connection.dialect, list(params))
        kept[1][connection.dialect.name] = compiled
    return compiled.run(connection, params)
