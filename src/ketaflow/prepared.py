"""Reads whose SQL is compiled once per process (issue 16).

Django builds a queryset and compiles its SQL again on every request. On the reads every page
makes (the session, the user, the second-factor device, the session record, the urgent tasks)
and the infusion page's reads, building and compiling took more CPU than running the statement:
about 1 ms a statement, 5 of the 8 ms of a logged-in request that does nothing, 24 of the 78 ms
of the nurse's infusion page (benchmarks/page_costs.py, docs/performance-web.md, "Session 16").

:class:`Prepared` wraps a function that builds a queryset from named values. The first call
builds it with stand-in values (an integer, a string or a time no record has), compiles it and
notes where each stand-in sits among the statement's parameters; later calls put the real values
in those places and run the statement. It is the same statement Django would run: a queryset
whose stand-ins do not each appear exactly once as a parameter (a value changed on its way in,
``icontains`` making ``%x%`` of it, a list for ``__in``), or that prefetches, or returns
dictionaries (``values()``) or named tuples, is never compiled ahead: it runs as an ordinary
queryset on every call. Models, ``values_list`` tuples and ``flat`` values are compiled ahead.
With ``KETAFLOW_PREPARED_CHECK`` (the test settings), every call also compiles the queryset of
the real values the ordinary way and fails if the statement or its parameters differ, so the
whole test suite checks each prepared read on every call.

The rows become model objects as Django's own model iterable makes them (``Model.from_db``,
``select_related``'s populators, annotations, the database's value converters), or tuples and
values as its ``values_list`` iterables make them."""

from __future__ import annotations

import copy
import datetime as dt
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import query as model_query
from django.db.models.query import (
    FlatValuesListIterable,
    ModelIterable,
    QuerySet,
    ValuesListIterable,
)

M = TypeVar("M")  # a model, or a tuple or value of ``values_list``
# What a row becomes, by the queryset's iterable: a model, a tuple, the one value.
_SHAPES: dict[type, str] = {
    ModelIterable: "model",
    ValuesListIterable: "tuple",
    FlatValuesListIterable: "flat",
}

# Stand-ins for the values, used to compile only (never run): an integer within a 32-bit
# column's range (a larger one makes Django refuse the lookup on such a column: django-otp's
# devices), a string with control characters, a time in the 22nd century; each differs by its
# place, and one that equals another parameter of the statement is not placed (below).
_INT_BASE = 2_000_000_000

# Django's model iterable's own helper (select_related's objects from a row); not in its stubs.
_related_populators: Callable[..., list[Any]] = vars(model_query)["get_related_populators"]


class PreparedMismatch(AssertionError):
    """A prepared statement differed from the one Django compiles for the same values."""


def _stand_in(place: int, value: object) -> object | None:
    if isinstance(value, bool):
        return None  # True and False are parameters of too many other conditions
    if isinstance(value, int):
        return _INT_BASE + place
    if isinstance(value, str):
        return f"\x1fprepared-stand-in-{place}\x1f"
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return None
        return dt.datetime(2190, 1, 2, 3, 4, 5, 1000 + place, tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.date(2190, 1, 1) + dt.timedelta(days=place)
    return None


def _adapt(connection: BaseDatabaseWrapper, value: object) -> object:
    """``value`` as Django passes it to the database for a field of its kind."""
    if isinstance(value, dt.datetime):
        return connection.ops.adapt_datetimefield_value(value)
    if isinstance(value, dt.date):
        return connection.ops.adapt_datefield_value(value)
    return value


@dataclass(frozen=True)
class _Statement:
    alias: str
    sql: str
    params: tuple[Any, ...]
    places: dict[str, int]
    typed: dict[str, type]  # the type a value takes where it is not the stand-in's own
    shape: str
    compiler: Any
    fields: list[Any]
    has_converters: bool  # the backend converts some column's values (a time, JSON)
    model: type[models.Model] | None
    init_list: list[str]
    start: int
    end: int
    populators: list[Any]
    annotations: dict[str, int]
    col_count: int | None
    # Each connection's compiler and converters, worked out at its first call (not at every
    # call: they were a tenth of a page's reads); a thread's connection is its own key.
    converting: weakref.WeakKeyDictionary[BaseDatabaseWrapper, tuple[Any, Any]] = field(
        default_factory=weakref.WeakKeyDictionary, compare=False, repr=False
    )


def _same(param: object, adapted: object) -> bool:
    """Whether ``param`` is the stand-in ``adapted``: the same value of the same type, or the
    same integer typed for its column (psycopg's ``Int8``, an ``int``)."""
    if type(param) is type(adapted):
        return param == adapted
    return (
        type(adapted) is int
        and isinstance(param, int)
        and not isinstance(param, bool)
        and param == adapted
    )


def _kind(value: object) -> type:
    return type(value)


class Prepared(Generic[M]):
    """A read of ``build(**values)``'s models whose SQL is compiled once per process and kind of
    values. ``build`` must depend on its values only (no clock, no setting read inside it)."""

    def __init__(self, build: Callable[..., QuerySet[Any, M]]) -> None:
        self.build = build
        self._statements: dict[tuple[tuple[str, type], ...], _Statement | None] = {}

    def all(self, **values: object) -> list[M]:
        key = tuple(sorted((name, _kind(value)) for name, value in values.items()))
        if key in self._statements:
            statement = self._statements[key]
        else:
            statement = self._statements[key] = self._compile(values)
        if statement is None:
            return list(self.build(**values))
        connection = connections[statement.alias]
        params = list(statement.params)
        for name, value in values.items():
            kind = statement.typed.get(name)
            params[statement.places[name]] = _adapt(
                connection, value if kind is None else kind(value)
            )
        if getattr(settings, "KETAFLOW_PREPARED_CHECK", False):
            self._check(statement, values, params)
        return self._run(statement, connection, params)

    def first(self, **values: object) -> M | None:
        """The first model of :meth:`all` (``build`` slices ``[:1]`` when one is all it needs)."""
        found = self.all(**values)
        return found[0] if found else None

    def _compile(self, values: dict[str, object]) -> _Statement | None:
        stand_ins = {name: _stand_in(place, v) for place, (name, v) in enumerate(values.items())}
        if any(s is None for s in stand_ins.values()):
            return None
        queryset = self.build(**stand_ins)
        state = vars(queryset)
        shape = _SHAPES.get(state["_iterable_class"])
        if shape is None or state["_prefetch_related_lookups"] or state["_known_related_objects"]:
            return None
        alias = queryset.db
        connection = connections[alias]
        compiler = queryset.query.get_compiler(using=alias)
        try:
            sql, raw_params = compiler.as_sql()
        except EmptyResultSet:
            return None
        params = tuple(raw_params)
        places: dict[str, int] = {}
        typed: dict[str, type] = {}
        for name, stand_in in stand_ins.items():
            adapted = _adapt(connection, stand_in)
            found = [i for i, p in enumerate(params) if _same(p, adapted)]
            if len(found) != 1 or str(adapted) in sql:
                return None
            places[name] = found[0]
            if type(params[found[0]]) is not type(adapted):
                # PostgreSQL's integer columns take their values typed (psycopg's Int8 for a
                # bigint that is not a key): each call's value is typed the same way.
                typed[name] = type(params[found[0]])
        fields = [s[0] for s in compiler.select[0 : compiler.col_count]]
        if compiler.has_composite_fields(fields):
            return None
        klass_info = compiler.klass_info or {"model": None, "select_fields": [0]}
        select_fields = klass_info["select_fields"]
        start, end = select_fields[0], select_fields[-1] + 1
        return _Statement(
            alias=alias,
            sql=sql,
            params=params,
            places=places,
            typed=typed,
            shape=shape,
            compiler=compiler,
            fields=fields,
            has_converters=bool(compiler.get_converters(fields)),
            model=klass_info["model"],
            init_list=[f[0].target.attname for f in compiler.select[start:end] if shape == "model"],
            start=start,
            end=end,
            populators=(
                _related_populators(klass_info, compiler.select, alias) if shape == "model" else []
            ),
            annotations=dict(compiler.annotation_col_map or {}),
            col_count=compiler.col_count if compiler.has_extra_select else None,
        )

    def _check(self, statement: _Statement, values: dict[str, object], params: list[Any]) -> None:
        queryset = self.build(**values)
        sql, expected = queryset.query.get_compiler(using=statement.alias).as_sql()
        if (sql, tuple(expected)) != (statement.sql, tuple(params)):
            raise PreparedMismatch(
                f"prepared read differs from Django's: {statement.sql!r} {params!r}"
                f" != {sql!r} {list(expected)!r}"
            )

    def _run(
        self, statement: _Statement, connection: BaseDatabaseWrapper, params: list[Any]
    ) -> list[M]:
        with connection.cursor() as cursor:
            cursor.execute(statement.sql, params)
            rows: Iterable[Any] = cursor.fetchall()
        if statement.col_count is not None:
            rows = [row[: statement.col_count] for row in rows]
        if statement.has_converters:
            # The converters of this thread's connection (the statement may have been compiled
            # on another thread's: the development server and the live test server run threads).
            converting = statement.converting.get(connection)
            if converting is None:
                compiler = copy.copy(statement.compiler)
                compiler.connection = connection
                converting = (compiler, compiler.get_converters(statement.fields))
                statement.converting[connection] = converting
            compiler, converters = converting
            rows = compiler.apply_converters(rows, converters)
        if statement.shape == "tuple":
            return [cast(M, tuple(row)) for row in rows]
        if statement.shape == "flat":
            return [cast(M, row[0]) for row in rows]
        found: list[M] = []
        for row in rows:
            obj = cast(type[models.Model], statement.model).from_db(
                statement.alias, statement.init_list, row[statement.start : statement.end]
            )
            for populator in statement.populators:
                populator.populate(row, obj)
            for name, place in statement.annotations.items():
                setattr(obj, name, row[place])
            found.append(cast(M, obj))
        return found


def related_read(model: type[models.Model], relation: str) -> Prepared[Any]:
    """The rows of ``model``'s reverse foreign key ``relation`` (its accessor: a session's
    ``vitals``, a patient's ``allergy_set``) for one object's key, in their model's order, as a
    prepared read: ``.all(key=pk)``. :func:`related_rows` gives them for an object."""
    rel: Any = getattr(model, relation).rel
    related, attname = rel.related_model, rel.field.attname
    return Prepared(lambda key: related._default_manager.filter(**{attname: key}))


def related_rows(instance: models.Model, relation: str, read: Prepared[Any]) -> list[Any]:
    """``instance.<relation>.all()`` read by ``read`` (its :func:`related_read`): each row's
    foreign key to ``instance`` is ``instance`` itself, as Django's related manager sets it."""
    rows = read.all(key=instance.pk)
    field = getattr(type(instance), relation).field
    for row in rows:
        field.set_cached_value(row, instance)
    return rows


def prefetched(instance: models.Model, relation: str, rows: list[Any]) -> None:
    """Keep ``rows`` (read by :func:`related_rows`) as ``instance``'s ``relation``, as Django's
    ``prefetch_related`` keeps them: ``instance.<relation>.all()`` gives them without a query."""
    manager = getattr(instance, relation)
    queryset = manager.get_queryset()
    queryset._result_cache = rows
    queryset._prefetch_done = True
    cache: dict[str, Any] = vars(instance).setdefault("_prefetched_objects_cache", {})
    cache[manager.field.remote_field.cache_name] = queryset


def first_row(queryset: QuerySet[Any, M]) -> QuerySet[Any, M]:
    """``queryset`` limited as ``.first()`` limits it (by its order, else by key), for a build
    whose read wants the first row: ``Prepared(lambda k: first_row(...)).first(k=...)``."""
    return (queryset if queryset.ordered else queryset.order_by("pk"))[:1]
