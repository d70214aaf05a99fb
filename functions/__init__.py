"""Trigger adapters: one Blueprint per trigger family. They decode, call one service, encode."""
