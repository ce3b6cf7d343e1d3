"""catalog edits: special hours, photo order, archived offerings

Revision ID: 1031
Revises: 1011
Create Date: 2026-12-02 04:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "1031"
down_revision: str | Sequence[str] | None = "1011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Special hours (merchants/opening.py states the rule and is its Python twin): on a local date
# covered by an entry, the entries replace that date's weekly periods (and the after-midnight
# tail of its late period). Shops without special hours (`'[]'`, nearly all of them) take the
# weekly function directly, so the nearby filter costs what it did before.
OPEN_AT_WITH_SPECIAL = """
CREATE OR REPLACE FUNCTION corner_shop_open_at(hours jsonb, special jsonb, tz text, at timestamptz)
RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN special = '[]'::jsonb THEN corner_shop_open_at(hours, tz, at) ELSE (
    WITH v AS (
      SELECT l.t::date AS d, l.t::time AS tm, extract(isodow FROM l.t)::int - 1 AS dow
      FROM (SELECT at AT TIME ZONE tz AS t) AS l
    ), e AS (
      SELECT (x->>'date')::date AS f, coalesce(x->>'until', x->>'date')::date AS u,
             coalesce((x->>'closed')::boolean, false) AS closed,
             (x->>'open')::time AS o, (x->>'close')::time AS c
      FROM jsonb_array_elements(special) AS x
    )
    SELECT
      CASE WHEN EXISTS (SELECT 1 FROM e, v WHERE e.f <= v.d AND e.u >= v.d)
        THEN EXISTS (SELECT 1 FROM e, v WHERE e.f <= v.d AND e.u >= v.d AND NOT e.closed
                     AND v.tm >= e.o AND (e.c <= e.o OR v.tm < e.c))
        ELSE EXISTS (SELECT 1 FROM jsonb_array_elements(hours) AS p, v
                     WHERE (p->>'day')::int = v.dow AND v.tm >= (p->>'open')::time
                       AND ((p->>'close')::time <= (p->>'open')::time
                            OR v.tm < (p->>'close')::time))
      END
      OR
      CASE WHEN EXISTS (SELECT 1 FROM e, v WHERE e.f <= v.d - 1 AND e.u >= v.d - 1)
        THEN EXISTS (SELECT 1 FROM e, v WHERE e.f <= v.d - 1 AND e.u >= v.d - 1 AND NOT e.closed
                     AND e.c <= e.o AND v.tm < e.c)
        ELSE EXISTS (SELECT 1 FROM jsonb_array_elements(hours) AS p, v
                     WHERE (p->>'day')::int = (v.dow + 6) % 7
                       AND (p->>'close')::time <= (p->>'open')::time
                       AND v.tm < (p->>'close')::time)
      END
  ) END
$$
"""


def upgrade() -> None:
    op.add_column(
        "shops",
        sa.Column(
            "special_hours",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
    )
    op.add_column(
        "shop_photos", sa.Column("position", sa.Integer(), server_default="0", nullable=False)
    )
    op.drop_index("ix_shop_photos_shop_id", table_name="shop_photos")
    op.create_index("ix_shop_photos_shop_id", "shop_photos", ["shop_id", "position", "id"])
    op.add_column(
        "offerings", sa.Column("active", sa.Boolean(), server_default="true", nullable=False)
    )
    op.add_column("offerings", sa.Column("archived_at", sa.DateTime(timezone=True)))
    op.execute(OPEN_AT_WITH_SPECIAL)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS corner_shop_open_at(jsonb, jsonb, text, timestamptz)")
    op.drop_column("offerings", "archived_at")
    op.drop_column("offerings", "active")
    op.drop_index("ix_shop_photos_shop_id", table_name="shop_photos")
    op.create_index("ix_shop_photos_shop_id", "shop_photos", ["shop_id", "id"])
    op.drop_column("shop_photos", "position")
    op.drop_column("shops", "special_hours")
