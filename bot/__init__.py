"""The composition root: reads Settings, builds the engine and the adapters, runs a mode."""
