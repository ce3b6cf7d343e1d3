"""Alembic environment: runs migrations with the sync psycopg driver.

The URL comes from the `sqlalchemy.url` set by the caller (tests, `corner db upgrade`) or from
settings. Every package's models are imported so that autogenerate sees the whole schema.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

import migrations.env_models  # noqa: F401  (every package's tables)
from core.models import Base
from core.settings import get_settings, require, to_sqlalchemy_url

config = context.config
target_metadata = Base.metadata

# PostGIS and pg_trgm own objects we must not try to drop in autogenerate
IGNORED_TABLES = {"spatial_ref_sys"}


def include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    return not (type_ == "table" and name in IGNORED_TABLES)


def database_url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    return to_sqlalchemy_url(url or require(get_settings().database_url, "DATABASE_URL"))


def run_migrations_offline() -> None:
    context.configure(
        url=database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(database_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_object=include_object,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
