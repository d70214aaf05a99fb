"""The processing core: pure; one message's events → a ChangeSet (no database, no clock, no I/O)."""
