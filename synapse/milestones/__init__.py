"""Milestones: pure criteria over balances, levels, event counts and streaks (see README.md)."""
