"""The one database error readers catch, whichever database answers.

``DatabaseUnavailable`` says a query could not run because the database cannot answer:
the server is unreachable, or the tables are not there yet (a log nobody has written).
``UNAVAILABLE`` pairs it with SQLite's own ``OperationalError``, which says the same of a
file, so a reader that shows "nothing yet" on either writes one ``except`` clause.
"""

from __future__ import annotations

import sqlite3


class DatabaseUnavailable(Exception):
    """The database cannot answer (unreachable, or not migrated); the message names it without secrets."""


UNAVAILABLE = (sqlite3.OperationalError, DatabaseUnavailable)
