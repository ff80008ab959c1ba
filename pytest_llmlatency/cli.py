"""The ``llmlatency`` command line."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Any

__all__ = ["EXIT_ERROR", "EXIT_REGRESSED", "main"]

EXIT_REGRESSED = 1
"""``compare``: a test regressed against the baseline (what the command exists to find)."""
EXIT_ERROR = 2
"""Any command: bad input or usage (a missing or unreadable file, a bad flag, an output that
cannot be written), as argparse exits on a bad flag; never mixed with a regression."""


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


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, got {text!r}")
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


def _add_emulator_command(sub: Any) -> None:
    """``llmlatency emulator`` and its options."""
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
    _add_emulator_answer_options(emu)
    emu.add_argument(
        "--capacity-pressure",
        action="store_true",
        help="the flex tier is out of capacity: service_tier flex fails fast with 498 capacity_exceeded",
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


def _add_emulator_answer_options(emu: argparse.ArgumentParser) -> None:
    """The emulator's options that shape answers: sampling and the prompt cache."""
    emu.add_argument(
        "--sampling",
        action="store_true",
        help="a request without temperature samples at Groq's default 1, so answer lengths vary between "
        "identical requests (default: only a request with temperature > 0 does)",
    )
    emu.add_argument(
        "--no-prompt-cache",
        dest="prompt_cache",
        action="store_false",
        help="never report cached prompt tokens (default: cache prefixes on the models Groq caches for)",
    )
    emu.add_argument(
        "--cache-ttl-s",
        type=_non_negative_float,
        default=7200.0,
        help="seconds an unused prompt prefix stays cached (default: %(default)s, Groq's 2 hours)",
    )
    emu.add_argument(
        "--cache-hit-rate",
        type=_rate,
        default=None,
        metavar="RATE",
        help="find a cached prompt prefix with this probability (0 to 1), so cached shares vary between "
        "identical requests as on real Groq (default: always)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llmlatency", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_emulator_command(sub)
    rep = sub.add_parser(
        "report",
        help="turn a --llm-report-json file into a self-contained HTML report",
        description="Render the JSON written by pytest --llm-report-json as one HTML file (budget bars, "
        "latency against output tokens with the fitted line per model, TTFT distributions, baseline deltas).",
    )
    rep.add_argument("json", help="the file written by --llm-report-json")
    rep.add_argument("-o", "--output", default=None, help="HTML file to write (default: the JSON's name, .html)")
    _add_shard_commands(sub)
    return parser


COMPARE_METHODS = ("auto", "deterministic", "rank")
"""As ``settings.COMPARE_METHODS`` (not imported from there: it imports pytest, and ``merge`` must start fast)."""
DEFAULT_STORAGE = ".benchmarks/llmlatency"
"""As ``settings.DEFAULT_STORAGE``."""


def _add_shard_commands(sub: Any) -> None:
    merge = sub.add_parser(
        "merge",
        help="combine the --llm-report-json files of CI shards into one",
        description="Merge per-shard result files into one, as if one machine had run every test. Refuses a "
        "test present in two shards, shards from different plugin versions or with different settings, and "
        "truncated files. Order-independent and idempotent.",
    )
    merge.add_argument("shards", nargs="+", metavar="SHARD_RESULT", help="files written by pytest --llm-report-json")
    merge.add_argument("-o", "--output", required=True, help="the merged JSON file to write")
    compare = sub.add_parser(
        "compare",
        help="gate a (merged) result file against a baseline",
        description="Judge every test of a --llm-report-json file against a saved baseline with the same "
        "grammar and verdict logic as --llm-compare-fail; exit 1 on a regression. Writes the Markdown summary "
        "(to --md, to $GITHUB_STEP_SUMMARY when set, and to standard output).",
    )
    compare.add_argument("results", help="a --llm-report-json file (one run or merged)")
    compare.add_argument(
        "--against",
        default="",
        metavar="ID|PATH",
        help="the baseline: a file, or a saved run in the storage by number or name prefix (default: the latest)",
    )
    compare.add_argument(
        "--fail",
        action="append",
        default=[],
        metavar="EXPR",
        help="METRIC:AMOUNT[%%|ms|s], as --llm-compare-fail (repeatable or comma-separated)",
    )
    compare.add_argument("--method", choices=COMPARE_METHODS, default="auto", help="as --llm-compare-method")
    compare.add_argument("--storage", default=DEFAULT_STORAGE, help="folder of saved runs (default: %(default)s)")
    compare.add_argument("--md", default=None, metavar="PATH", help="also write the Markdown summary to this file")
    compare.add_argument("--json", default=None, metavar="PATH", help="write the results with this comparison")
    save = sub.add_parser(
        "save",
        help="save a (merged) result file as a pytest-benchmark-format baseline",
        description="Write one baseline, as pytest --llm-save does: NAME gives <storage>/<machine>/NNNN_NAME.json; "
        "a path (with a folder or ending in .json) is written as it is.",
    )
    save.add_argument("results", help="a --llm-report-json file (one run or merged)")
    save.add_argument("--name", required=True, help="the run's name or a file path")
    save.add_argument("--storage", default=DEFAULT_STORAGE, help="folder of saved runs (default: %(default)s)")
    history = sub.add_parser(
        "history",
        help="render the saved runs as an HTML page of trends",
        description="Per test across saved runs: e2e p50/p95, TTFT and completion tokens, budgets as lines, "
        "regressions and improvements against the run before, and change points (Pettitt's rank test with "
        "binary segmentation).",
    )
    history.add_argument(
        "storage", nargs="*", default=[DEFAULT_STORAGE], help="folders or files of saved runs (default: %(default)s)"
    )
    history.add_argument("-o", "--output", default="llmlatency-history.html", help="HTML file (default: %(default)s)")
    history.add_argument(
        "--fail",
        default=None,
        metavar="EXPR",
        help="the gate marking run-to-run changes (default: e2e:10%%,ttft:20%%,completion_tokens:10%%)",
    )
    export = sub.add_parser(
        "export",
        help="write Bencher (BMF) or github-action-benchmark JSON from a (merged) result file",
        description="The same files as pytest --llm-report-bmf / --llm-report-github-benchmark, from a result file.",
    )
    export.add_argument("results", help="a --llm-report-json file (one run or merged)")
    export.add_argument("--bmf", default=None, metavar="PATH", help="Bencher Metric Format JSON")
    export.add_argument(
        "--github-benchmark", default=None, metavar="PATH", help="github-action-benchmark customSmallerIsBetter JSON"
    )


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
        sampling=args.sampling,
        prompt_cache=args.prompt_cache,
        cache_ttl_s=args.cache_ttl_s or 7200.0,
        cache_hit_rate=args.cache_hit_rate,
        capacity_pressure=args.capacity_pressure,
        api_key=args.api_key,
        faults=args.fault,
        verbose=args.verbose,
    )
    try:
        emulator.start()
    except OSError as err:
        print(f"llmlatency emulator: cannot listen on {args.host}:{args.port}: {err}", file=sys.stderr)
        return EXIT_ERROR
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
    from pathlib import Path

    from .report.html import render_html
    from .report.jsonfile import ReportFileError, read_report

    source = Path(args.json)
    try:
        doc = read_report(source, command="llmlatency report")
    except ReportFileError as err:
        return _fail("report", str(err))
    tests = doc["tests"]
    target = Path(args.output) if args.output else source.with_suffix(".html")
    html = render_html(tests, fits=doc.get("models") or {}, advice={t["nodeid"]: t.get("advice") or [] for t in tests})
    if not _write("report", str(target), html):
        return EXIT_ERROR
    print(f"wrote {target}")
    return 0


def _fail(command: str, message: str) -> int:
    """Say what went wrong (naming the file or the argument); the exit code of an error."""
    text = message if message.startswith("llmlatency") else f"llmlatency {command}: {message}"
    print(text, file=sys.stderr)
    return EXIT_ERROR


def _write(command: str, path: str, text: str) -> bool:
    from pathlib import Path

    from .core.atomic import atomic_write_text

    try:
        atomic_write_text(Path(path), text)
    except OSError as err:
        _fail(command, f"cannot write {path}: {err}")
        return False
    return True


def _run_merge(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .report.jsonfile import ReportFileError
    from .report.merge import merge_files

    try:
        text = merge_files([Path(p) for p in args.shards])
    except ReportFileError as err:
        return _fail("merge", str(err))
    if not _write("merge", args.output, text):
        return EXIT_ERROR
    print(f"merged {len(args.shards)} file(s) into {args.output}")
    return 0


def _run_compare(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .gate.errors import BaselineError
    from .gate.store import resolve_compare
    from .report.jsonfile import ReportFileError, dump_doc, read_report
    from .report.merge import compare_results
    from .report.writers import append_step_summary

    try:
        doc = read_report(Path(args.results), command="llmlatency compare")
        against = resolve_compare(Path(args.storage), args.against or None)
        outcome = compare_results(doc, against, args.fail, method=args.method)
    except (ReportFileError, BaselineError) as err:
        return _fail("compare", str(err).replace("--llm-compare:", "--against:"))
    print(outcome.markdown, end="")
    if args.md and not _write("compare", args.md, outcome.markdown):
        return EXIT_ERROR
    if args.json and not _write("compare", args.json, dump_doc({**doc, "tests": outcome.results})):
        return EXIT_ERROR
    problem = append_step_summary(outcome.markdown)
    if problem:
        _fail("compare", problem)
    if outcome.regressed:
        print(
            f"llmlatency compare: {len(outcome.regressed)} test(s) regressed against {outcome.baseline}",
            file=sys.stderr,
        )
        return EXIT_REGRESSED
    return 0


def _run_save(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .gate.errors import BaselineError
    from .report.jsonfile import ReportFileError, read_report
    from .report.merge import save_results

    try:
        doc = read_report(Path(args.results), command="llmlatency save")
        target = save_results(doc, Path(args.storage), args.name)
    except (ReportFileError, BaselineError) as err:
        return _fail("save", str(err).replace("--llm-save:", "--name:"))
    except OSError as err:
        return _fail("save", f"cannot write the baseline: {err}")
    print(f"saved {target}")
    return 0


def _run_history(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .gate.errors import BaselineError
    from .report.history import DEFAULT_GATE, HistoryError, load_runs, render_history

    try:
        runs, skipped = load_runs([Path(p) for p in args.storage])
        html = render_history(runs, gate=args.fail or DEFAULT_GATE, skipped=skipped)
    except (HistoryError, BaselineError) as err:
        return _fail("history", str(err))
    if not _write("history", args.output, html):
        return EXIT_ERROR
    print(f"wrote {args.output} ({len(runs)} run(s))")
    return 0


def _run_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .report.export import render_export
    from .report.jsonfile import ReportFileError, read_report

    if not args.bmf and not args.github_benchmark:
        return _fail("export", "give --bmf PATH and/or --github-benchmark PATH")
    try:
        doc = read_report(Path(args.results), command="llmlatency export")
    except ReportFileError as err:
        return _fail("export", str(err))
    for path, kind in ((args.bmf, "bmf"), (args.github_benchmark, "github")):
        if path:
            if not _write("export", path, render_export(doc["tests"], kind)):
                return EXIT_ERROR
            print(f"wrote {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "emulator":
        return _run_emulator(args)
    if args.command == "report":
        return _run_report(args)
    commands = {
        "merge": _run_merge,
        "compare": _run_compare,
        "save": _run_save,
        "history": _run_history,
        "export": _run_export,
    }
    if args.command in commands:
        return commands[args.command](args)
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
