"""Scheduled and recurring treasury payments: stored schedules, their occurrences, and the due-time loop."""
