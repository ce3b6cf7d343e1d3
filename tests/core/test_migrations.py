"""Migrations go up and down cleanly, and the models match what the migrations build."""

from __future__ import annotations

import psycopg
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

import migrations.env_models  # noqa: F401
from core.migrate import downgrade, upgrade
from core.models import Base
from core.settings import Settings, to_libpq_url, to_sqlalchemy_url


def _scratch_url(settings: Settings) -> str:
    assert settings.database_url
    base, _, name = to_libpq_url(settings.database_url).rpartition("/")
    scratch = f"{name}_migrations"
    with psycopg.connect(to_libpq_url(settings.database_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{scratch}"')
    return f"{base}/{scratch}"


def _table_names(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return {r[0] for r in rows}


def test_upgrade_downgrade_upgrade(test_settings: Settings) -> None:
    url = _scratch_url(test_settings)
    upgrade(url)
    assert {"users", "merchants", "merchant_staff"} <= _table_names(url)
    downgrade(url, "base")
    assert _table_names(url) <= {"alembic_version"}
    upgrade(url)
    assert "users" in _table_names(url)


def test_models_match_migrations(test_settings: Settings) -> None:
    assert test_settings.database_url
    engine = create_engine(to_sqlalchemy_url(test_settings.database_url))
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "include_object": lambda obj, name, type_, reflected, compare_to: (
                    not (type_ == "table" and name == "spatial_ref_sys")
                ),
            },
        )
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == [], diff
