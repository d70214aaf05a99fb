"""Entry point: ``python -m relay`` (run) or ``python -m relay --dry-run < capture.jsonl``."""

from __future__ import annotations

import argparse
import asyncio
import sys

from relay.config import load_config
from relay.telemetry import configure_logging
from synapse.errors import ConfigError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m relay", description=__doc__)
    parser.add_argument("--dry-run", action="store_true",
                        help="read gateway dispatch frames (JSON lines) from stdin, print envelopes, "
                             "connect nowhere")
    args = parser.parse_args(argv)
    try:
        config = load_config(need_token=not args.dry_run)
    except ConfigError as exc:
        print(f"relay: {exc.message}" + (f" ({exc.hint})" if exc.hint else ""), file=sys.stderr)
        return 2
    configure_logging(config.log_level)
    if args.dry_run:
        from relay.dryrun import main as dry_run

        return dry_run(fingerprint_key=config.fingerprint_key)
    from relay.app import serve

    return asyncio.run(serve(config))


if __name__ == "__main__":
    sys.exit(main())
