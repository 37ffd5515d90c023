"""Escrowed payment intents: a member funds an intent from their own wallet, the Settlement holds it, and it is
released when its condition holds (by hand, at a time, at a price) or refunded on cancel or expiry."""
