"""Plain-language requests: a sentence becomes the slash command it means, or a question (see parser)."""

from core.understand.parser import Understanding, understand

__all__ = ["Understanding", "understand"]
