"""RQ job functions: thin, synchronous, taking ids; each builds what it needs and calls the engine."""
