"""Show that the tracking tick finds its due batch through an index with 1,000,000 returns stored, 100,000 in transit.

`uv run python scripts/explain_tracking_tick.py [POSTGRES_URL]` fills a scratch schema (dropped afterwards) with
generate_series, runs ANALYZE, and prints EXPLAIN (ANALYZE, BUFFERS) of the exact query `Stores.shipments_due` issues.
"""

from __future__ import annotations

import sys
import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url

from rma.adapters.db import create_db_engine, migrate
from rma.adapters.db.tables import ShipmentRow

URL = sys.argv[1] if len(sys.argv) > 1 else "postgresql+psycopg://postgres@127.0.0.1:5432/test"
RETURNS, IN_TRANSIT, LIMIT = 1_000_000, 100_000, 10_000

FILL = f"""
INSERT INTO returns (id, channel, upstream_request_id, order_id, customer_id, status, currency, amount_captured,
                     request, created_at, updated_at, version, redrive_count, status_due_at)
SELECT md5(g::text)::uuid, 'bench', 'r-' || g, 'o-' || g, 'c-' || (g %% 50000),
       CASE WHEN g <= {IN_TRANSIT} THEN 'in_transit' ELSE 'closed' END, 'USD', 1000, '{{}}'::jsonb,
       now(), now(), 1, 0, CASE WHEN g <= {IN_TRANSIT} THEN now() + interval '30 days' END
FROM generate_series(1, {RETURNS}) AS g;
INSERT INTO shipments (return_id, tracking_number, carrier_status, next_poll_at, expires_at, polls)
SELECT md5(g::text)::uuid, '1Z' || g, CASE WHEN g <= {IN_TRANSIT} THEN 'in_transit' ELSE 'delivered' END,
       CASE WHEN g <= {IN_TRANSIT} THEN now() + (g %% 1440) * interval '1 minute' - interval '12 hours' END,
       now() + interval '14 days', 1
FROM generate_series(1, {RETURNS}) AS g;
ANALYZE returns; ANALYZE shipments;
"""  # noqa: S608 - built from this script's constants, no input


def main() -> None:
    schema = f"rma_explain_{uuid.uuid4().hex[:8]}"
    admin = create_db_engine(URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_db_engine(make_url(URL).update_query_dict({"options": f"-csearch_path={schema}"}))
    try:
        migrate.upgrade(engine)
        started = time.monotonic()
        with engine.begin() as conn:
            conn.exec_driver_sql(FILL)
        print(f"filled {RETURNS:,} returns ({IN_TRANSIT:,} in transit) in {time.monotonic() - started:.0f} s")  # noqa: T201
        query = (
            select(ShipmentRow.return_id, ShipmentRow.tracking_number)
            .where(ShipmentRow.next_poll_at <= datetime.now(UTC))
            .order_by(ShipmentRow.next_poll_at)
            .limit(LIMIT)
        )
        sql = str(query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
        with engine.connect() as conn:
            plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + sql).scalars().all()
        print(sql)  # noqa: T201
        print("\n".join(plan))  # noqa: T201
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main()
