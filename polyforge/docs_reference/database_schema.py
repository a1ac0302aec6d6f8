"""The database reference page: every table of a campaign database, from the SQLAlchemy metadata (so tables in any
module of `polyforge.storage` are included), with each column's type, keys, default and description."""

from __future__ import annotations

from enum import Enum

from sqlalchemy import Column, Table, UniqueConstraint
from sqlalchemy.sql.schema import ColumnDefault, DefaultClause

from polyforge.storage import Base


def _table_docs() -> dict[str, str]:
    return {mapper.local_table.name: " ".join((mapper.class_.__doc__ or "").split())
            for mapper in Base.registry.mappers}


def _default(column: Column) -> str:
    default = column.default
    if isinstance(default, ColumnDefault):
        value = default.arg
        # SQLAlchemy wraps a Python callable default in a function of one argument (the execution context).
        if callable(value):
            text = f"{getattr(value, '__wrapped__', value).__name__}()"
        else:
            text = repr(value.value if isinstance(value, Enum) else value)
        return f"`{text}`"
    if isinstance(column.server_default, DefaultClause):
        return f"`{column.server_default.arg}` (server)"
    return ""


def _keys(column: Column) -> str:
    keys = ["primary key"] if column.primary_key else []
    keys += [f"→ `{foreign.target_fullname}`" for foreign in column.foreign_keys]
    if column.unique:
        keys.append("unique")
    if column.index:
        keys.append("indexed")
    return ", ".join(keys)


def _column_row(column: Column) -> str:
    description = " ".join((column.doc or "").split()).replace("|", "\\|")
    nullable = "yes" if column.nullable and not column.primary_key else "no"
    return (f"| `{column.name}` | {str(column.type).lower()} | {nullable} | {_keys(column)} | {_default(column)} "
            f"| {description} |")


def _constraints(table: Table) -> list[str]:
    lines = [f"- unique: ({', '.join(f'`{c.name}`' for c in constraint.columns)})"
             for constraint in sorted(table.constraints, key=lambda c: [c.name for c in c.columns])
             if isinstance(constraint, UniqueConstraint) and len(constraint.columns) > 1]
    lines += [f"- index `{index.name}`: ({', '.join(f'`{c.name}`' for c in index.columns)})"
              for index in sorted(table.indexes, key=lambda index: index.name) if len(index.columns) > 1]
    return lines


def render() -> str:
    docs = _table_docs()
    lines = ["# Database schema", "",
             "The tables of a campaign database (SQLite or PostgreSQL), from the SQLAlchemy models in "
             "`polyforge/storage/`. Alembic migrations (`polyforge/storage/migrations/`) bring an existing database "
             "to this schema when a campaign opens it.", ""]
    for table in Base.metadata.sorted_tables:
        lines += [f"## `{table.name}`", ""]
        lines += [docs[table.name], ""] if docs.get(table.name) else []
        lines += ["| column | type | null | keys | default | description |", "| --- | --- | --- | --- | --- | --- |"]
        lines += [_column_row(column) for column in table.columns]
        extra = _constraints(table)
        lines += ["", *extra, ""] if extra else [""]
    return "\n".join(lines)


