"""kalshi-fixsim: the simulated Kalshi FIX exchange."""
