"""Synapse: community engagement for Discord servers.

The three pillars are folders: ``eventlake`` (data in), ``rules`` (decisions),
``ledger`` (currency). ``db``, ``discord``, ``api``, ``interactions`` and
``services`` are the edges that do I/O. Nothing here opens a connection at
import time.
"""

__version__ = "0.1.0"
