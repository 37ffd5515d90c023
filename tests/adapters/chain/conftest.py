"""Makes the anvil fixtures available to the chain adapter's tests."""

from tests.fixtures.anvil import *  # noqa: F401,F403
