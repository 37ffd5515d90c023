"""SnowRail's product logic in plain Python: commands, money, state machines and the engine."""
