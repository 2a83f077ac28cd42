"""Run the simulator on its own: ``python -m simulator --port 8765 [--live]``.

Prints one JSON line with the base URL and the source URLs, then serves until interrupted. With
``--live`` the simulated world keeps producing posts and engagement (the demo).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from dataclasses import asdict

from simulator.scenarios import build_scenario


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mastodon-posts", type=int, default=600)
    parser.add_argument("--bluesky-posts", type=int, default=300)
    parser.add_argument("--x-posts", type=int, default=200)
    parser.add_argument("--live", action="store_true", help="keep producing posts")
    parser.add_argument("--tick-every", type=float, default=2.0, help="seconds between ticks with --live")
    parser.add_argument("--tick-seconds", type=float, default=60.0, help="simulated seconds per tick")
    args = parser.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the simulator only listens on loopback")
    scenario = build_scenario(
        seed=args.seed,
        mastodon_posts=args.mastodon_posts,
        bluesky_posts=args.bluesky_posts,
        x_posts=args.x_posts,
    )
    handle = scenario.simulator.serve(port=args.port).start()
    sources = [asdict(s) for s in scenario.sources(handle.url)]
    sys.stdout.write(json.dumps({"url": handle.url, "sources": sources}) + "\n")
    sys.stdout.flush()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(args.tick_every if args.live else 3600):
        if args.live:
            scenario.tick(args.tick_seconds)
    handle.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
