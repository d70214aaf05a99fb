"""Discord adapters: our REST client (rate limits), embed builders. See README.md."""
