"""The ``llmlatency`` command line."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

__all__ = ["main"]


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, got {text!r}")
    return value


def _fault(text: str) -> str:
    from .emulator.faults import FaultError, parse_fault

    try:
        parse_fault(text)
    except FaultError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llmlatency", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    emu = sub.add_parser(
        "emulator",
        help="run the Groq emulator (a Groq-compatible server on loopback)",
        description="Serve Groq's chat-completions API on 127.0.0.1 with Groq's latency "
        "behaviour, until interrupted. Point GROQ_BASE_URL at the printed URL.",
    )
    emu.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    emu.add_argument("--port", type=_port, default=8765, help="port, 0 for any free one (default: %(default)s)")
    emu.add_argument(
        "--time-scale",
        type=_positive_float,
        default=1.0,
        help="run N times faster than Groq (default: %(default)s)",
    )
    emu.add_argument("--seed", type=int, default=0, help="seed of the timing jitter (default: %(default)s)")
    emu.add_argument(
        "--jitter",
        type=_non_negative_float,
        default=0.05,
        help="relative spread of decode speed per request (default: %(default)s)",
    )
    emu.add_argument(
        "--queue-ms",
        type=_non_negative_float,
        default=None,
        help="fixed queue time instead of the model's distribution",
    )
    emu.add_argument(
        "--queue-profile",
        choices=("calm", "groq"),
        default="calm",
        help="queue-time distribution: calm (each model's narrow one) or groq (the heavy tail measured on "
        "real Groq: median 101 ms, p90 608 ms; at least 7%% speed jitter) (default: %(default)s)",
    )
    emu.add_argument("--api-key", default=None, help="accept only this key (default: any non-empty key)")
    emu.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        metavar="SPEC",
        help="server-wide fault, e.g. '429;retry_after=1' or '500;times=2' (repeatable)",
    )
    emu.add_argument("-v", "--verbose", action="store_true", help="log every request")
    rep = sub.add_parser(
        "report",
        help="turn a --llm-report-json file into a self-contained HTML report",
        description="Render the JSON written by pytest --llm-report-json as one HTML file (budget bars, "
        "latency against output tokens with the fitted line per model, TTFT distributions, baseline deltas).",
    )
    rep.add_argument("json", help="the file written by --llm-report-json")
    rep.add_argument("-o", "--output", default=None, help="HTML file to write (default: the JSON's name, .html)")
    return parser


def _run_emulator(args: argparse.Namespace) -> int:
    from .emulator import GroqEmulator

    emulator = GroqEmulator(
        host=args.host,
        port=args.port,
        time_scale=args.time_scale,
        seed=args.seed,
        jitter=args.jitter,
        queue_ms=args.queue_ms,
        queue_profile=args.queue_profile,
        api_key=args.api_key,
        faults=args.fault,
        verbose=args.verbose,
    )
    try:
        emulator.start()
    except OSError as err:
        print(f"llmlatency emulator: cannot listen on {args.host}:{args.port}: {err}", file=sys.stderr)
        return 1
    done = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"Groq emulator listening on {emulator.base_url}", flush=True)
    print(f"  export GROQ_BASE_URL={emulator.base_url}  (openai SDK: {emulator.openai_base_url})", flush=True)
    try:
        while not done.wait(0.5):
            pass
    finally:
        emulator.stop()
    return 0


def _run_report(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from .files import atomic_write_text
    from .report.html import render_html

    source = Path(args.json)
    try:
        doc = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        print(f"llmlatency report: cannot read {source}: {err}", file=sys.stderr)
        return 1
    if not isinstance(doc, dict) or doc.get("schema") != "pytest-llmlatency/report":
        print(f"llmlatency report: {source} is not a --llm-report-json file", file=sys.stderr)
        return 1
    tests = doc.get("tests") or []
    target = Path(args.output) if args.output else source.with_suffix(".html")
    html = render_html(tests, fits=doc.get("models") or {}, advice={t["nodeid"]: t.get("advice") or [] for t in tests})
    try:
        atomic_write_text(target, html)
    except OSError as err:
        print(f"llmlatency report: cannot write {target}: {err}", file=sys.stderr)
        return 1
    print(f"wrote {target}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "emulator":
        return _run_emulator(args)
    if args.command == "report":
        return _run_report(args)
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
