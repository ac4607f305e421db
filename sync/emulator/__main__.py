"""`python -m sync.emulator --port N [--config F]`: the emulator without the full CLI."""

from __future__ import annotations

import argparse

from sync.emulator.server import run_forever


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m sync.emulator",
        description="Run the local TikTok Business API emulator (a test double).",
    )
    parser.add_argument("--port", type=int, default=8765, help="port (0 picks a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind; keep it on loopback")
    parser.add_argument("--config", default=None, help="JSON file with identities and limits")
    args = parser.parse_args(argv)
    run_forever(host=args.host, port=args.port, config_path=args.config)


if __name__ == "__main__":
    main()
