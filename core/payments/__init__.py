"""Treasury payments, one concern per module: the chat commands (handlers), settling one payment on chain
(settle), and bringing open payments to a conclusion after a restart (reconcile)."""

from core.payments.handlers import cancel, check_treasury, confirm, history, pay, status
from core.payments.reconcile import reconcile
from core.payments.settle import finalize, settle

__all__ = ["cancel", "check_treasury", "confirm", "finalize", "history", "pay", "reconcile", "settle", "status"]
