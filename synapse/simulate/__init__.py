"""The community simulator: realistic, deterministic traffic for a guild (``synapse simulate``)."""
