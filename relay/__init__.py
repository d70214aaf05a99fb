"""The Synapse gateway relay: capture Discord gateway events, normalise them, enqueue them.

The relay is the only always-on process of Synapse. It decides nothing: it turns
gateway dispatches into envelope events (DESIGN.md §2), drops message text after
computing features, and makes sure every captured event reaches the queue at
least once (bounded buffer → batches → queue, or a fsynced disk spool when the
queue is unreachable). It imports nothing of Synapse but the envelope contract,
the queue client and the error tree (an import-linter contract keeps it so).
"""
