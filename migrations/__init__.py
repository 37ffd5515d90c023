"""Alembic migrations for SnowRail's database; adapters.db.migrate runs them."""
