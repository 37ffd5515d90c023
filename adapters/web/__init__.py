"""The web dashboard: a Starlette app over the engine (sign-in from chat, treasury, ledger, batches, approvals)."""

from adapters.web.app import create_app

__all__ = ["create_app"]
