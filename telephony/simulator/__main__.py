"""``python -m telephony.simulator``: what ``openline simulate`` runs (and ``openline demo`` starts)."""

from __future__ import annotations

import argparse
import asyncio

from app.core.observability import configure_logging
from app.core.settings import Settings
from telephony.simulator.practice import run_simulator


def main() -> None:
    parser = argparse.ArgumentParser(description="A fake Twilio for Openline's demo, tests and practice mode.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=None, help="default: OPENLINE_SIMULATOR_PORT (8010)")
    parser.add_argument("--app-url", default=None, help="where to send webhooks (default: OPENLINE_PUBLIC_URL)")
    parser.add_argument(
        "--callers", action=argparse.BooleanOptionalAction, default=True, help="practice callers ring now and then"
    )
    parser.add_argument("--min-gap", type=float, default=20.0, help="seconds between callers, at least")
    parser.add_argument("--parent-pid", type=int, default=None, help="stop when this process is gone")
    parser.add_argument("--max-gap", type=float, default=60.0, help="seconds between callers, at most")
    args = parser.parse_args()
    settings = Settings()
    configure_logging(settings.log_level)
    asyncio.run(
        run_simulator(
            settings,
            host=args.host,
            port=args.port,
            app_url=args.app_url,
            callers=args.callers,
            min_gap=args.min_gap,
            max_gap=args.max_gap,
            parent_pid=args.parent_pid,
        )
    )


if __name__ == "__main__":
    main()
