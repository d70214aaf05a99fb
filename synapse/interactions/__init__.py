"""Slash commands over HTTP interactions (see README.md)."""
