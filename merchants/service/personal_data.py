"""The merchants package's data about a person, for the export (which rows: its
repository/personal_data.py); nothing here is erased, since nothing in it names the person."""

from __future__ import annotations

from core.export import personal_data_exporter
from merchants.repository import personal_data as repo

export_personal_data = personal_data_exporter(repo.export_specs)
