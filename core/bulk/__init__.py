"""Bulk payouts: reading and checking payout files, batches of rows and how they are settled."""
