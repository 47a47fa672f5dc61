"""`from kalshi_fixsim import conform; conform.run(...)`: the conformance kit (simulator/conform/)."""
from kalshi_fixsim.simulator.conform import *  # noqa: F401,F403
from kalshi_fixsim.simulator.conform import __all__  # noqa: F401
