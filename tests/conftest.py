"""Shared fixtures: a fresh anvil per session, and migrated SQLite/PostgreSQL databases."""

pytest_plugins = ["tests.fixtures.anvil", "tests.fixtures.databases"]
