"""The Rules Engine (pillar 2): rules as data, pure evaluation. See README.md."""
