"""Implementations of the core ports, and the chat platforms."""
