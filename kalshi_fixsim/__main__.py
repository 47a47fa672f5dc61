"""`python -m kalshi_fixsim ...`: the same CLI as `kalshi-fixsim ...`."""
import sys

from kalshi_fixsim.simulator.cli import main

sys.exit(main())
