"""The regression gate's false alarms on unchanged requests, against a real (small) LLM.

``bench_gate.py`` measures the gate on calls drawn from the emulator's latency model. This
benchmark puts a real model behind Groq's API instead: SmolLM2-135M-Instruct on the CPU
through llama-cpp-python, run in-process by a small Groq-shaped front server (standard
library ``http.server`` on 127.0.0.1, an ephemeral port) that this script starts. The
server answers ``POST /openai/v1/chat/completions`` (streamed SSE and not) one request at
a time and reports Groq's ``usage`` timings, in seconds, which llama.cpp does not give:

- ``queue_time``: the time the request waited for the model (requests are served one at a
  time);
- ``prompt_time``: from taking the model to the first generated token (template,
  tokenization, prefill, first sample);
- ``completion_time``: the decode after the first token, to the last token sampled;
- ``total_time`` = prompt + completion; the token counts, and
  ``prompt_tokens_details.cached_tokens``: the prompt tokens llama.cpp did not evaluate
  because the previous request's prefix was still in its KV cache.

Streamed answers are shaped like Groq's (``chat.completion.chunk``, a role-only first chunk
with ``x_groq.id``, ``delta.content`` chunks, a last chunk with ``finish_reason`` and
``x_groq.usage`` plus a top-level ``usage``, then ``data: [DONE]``), non-streamed ones carry
a top-level ``usage``. ``temperature`` (Groq's default 1), ``top_p``, ``seed`` (a random one
when the request has none, as Groq samples), ``max_completion_tokens``/``max_tokens`` and
``stop`` are honoured.

Protocol, with the plugin used only through pytest command lines (this interpreter, which
must have pytest-llmlatency and the ``groq`` SDK installed):

1. **A/A** per temperature T: a generated test file of K tests, each a different short
   question asked through ``groq.Groq(base_url=..., api_key="x")`` with ``stream=True`` and
   ``max_completion_tokens`` (120). One live run saves the baseline
   (``--llm-live --llm-record-mode=none --llm-save=<file>``: calls the server, never
   replays nor records a cassette; checked after every run), then R runs compare with it
   (``--llm-compare=<file> --llm-compare-fail=e2e:10% --llm-report-json=<file>``). Every
   comparison is unchanged code against an unchanged server: each "regressed" is a false
   alarm. Counted from the JSON report's per-test ``comparison``.
2. **Detection**: K prompts that run long, baseline saved at ``max_completion_tokens`` 40,
   then the same suite at 300: how many tests fail as regressed, and whether the message
   names ``max_completion_tokens``.

Run it with the plugin's venv (the front server runs under ``--llama-python``)::

    . .venv/bin/activate
    python benchmarks/bench_gate_real.py [--tests 10] [--temperatures 1:3 0:2] [--max-tokens 120]
        [--detect-tokens 40 300] [--threshold e2e:10%] [--out results.json] [--keep DIR]

It takes a few minutes (the 135M model decodes about 50-75 tokens/s on one thread). The
server uses one thread for prefill too (``--threads-batch 1``): with two on a loaded 2-core
host, llama.cpp's threads wait on each other and a 13-token prefill took up to 4.8 s, which
the gate rightly calls a slower server.

What is printed: per temperature, the comparisons (tests x runs), how many the gate failed as
regressed (and how many of those "certain"), left inconclusive or called improved, how many
had another answer length than the baseline's; the reasons (each verdict's explanation,
numbers as #) and the first 150 characters of some messages; the server's median e2e,
tokens and tokens/s, and per test the max/min of e2e and of the answer's length over the
runs. The plugin's sources are hashed before each run: the gate may be edited while this
runs, and a warning says when the runs did not all use the same sources. To pin one version,
snapshot it and pass ``--plugin-tree``::

    git archive HEAD pytest_llmlatency | tar -x -C /tmp/snap
    python benchmarks/bench_gate_real.py --plugin-tree /tmp/snap

The front server alone, for poking at it with curl::

    /work/llm/venv/bin/python benchmarks/bench_gate_real.py --serve --port 8091
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

DEFAULT_LLAMA_PYTHON = "/work/llm/venv/bin/python"
DEFAULT_MODEL = "/work/llm/models/SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_NAME = "smollm2-135m-instruct"
CHAT_PATH = "/openai/v1/chat/completions"

AA_PROMPTS = [
    "What is the capital of France?",
    "Why is the sky blue?",
    "What is a prime number?",
    "How do bees make honey?",
    "What does a CPU do?",
    "Why do cats purr?",
    "What is photosynthesis?",
    "How far away is the Moon?",
    "What is a queue in computing?",
    "Why do leaves change colour in autumn?",
    "What is the boiling point of water?",
    "Who wrote Romeo and Juliet?",
]
LONG_PROMPTS = [
    "Write a long, detailed story about a lighthouse keeper who finds a message in a bottle.",
    "Write a detailed essay about the history of the bicycle.",
    "Explain in detail, step by step, how a car engine works.",
    "Write a long story about a dragon who is afraid of the dark.",
    "Describe in detail a journey across the Sahara desert.",
    "Write a detailed guide to growing tomatoes in a small garden.",
    "Write a long letter from a sailor to his family about life at sea.",
    "Explain in detail how the internet works, from cables to web pages.",
    "Write a long fairy tale about a clockmaker and a talking owl.",
    "Describe in detail a day in the life of a medieval blacksmith.",
    "Write a detailed essay on why people should learn to cook.",
    "Write a long story about two friends building a treehouse.",
]


def _prompts(pool: Sequence[str], k: int) -> list[str]:
    """K different prompts: the pool, then variants of it numbered (still all different)."""
    return [pool[i] if i < len(pool) else f"{pool[i % len(pool)]} (question {i + 1})" for i in range(k)]


# --------------------------------------------------------------------------------------
# The front server (runs under --llama-python, imports llama_cpp)
# --------------------------------------------------------------------------------------


class Meter:
    """Times one generation by wrapping the ``Llama`` instance's ``generate`` and ``eval``.

    Only the request holding the model lock uses it, so one instance serves every request.
    """

    def __init__(self, llm: Any) -> None:
        import llama_cpp

        self._is_eog = lambda token: bool(llama_cpp.llama_vocab_is_eog(llm._model.vocab, token))
        self._generate = llm.generate
        self._eval = llm.eval
        llm.generate = self.generate
        llm.eval = self.eval
        self.begin()

    def begin(self) -> None:
        self.start = time.perf_counter()
        self.prompt_tokens = 0
        self.evaluated: int | None = None
        self.first: float | None = None
        self.last: float | None = None
        self.completion_tokens = 0

    def eval(self, tokens: Sequence[int]) -> None:
        if self.evaluated is None:  # the first eval of a request: the prompt's uncached suffix
            self.evaluated = len(tokens)
        self._eval(tokens)

    def generate(self, tokens: Sequence[int], **kwargs: Any) -> Iterator[int]:
        self.prompt_tokens = len(tokens)
        inner = self._generate(tokens, **kwargs)
        try:
            for token in inner:
                now = time.perf_counter()
                if self.first is None:
                    self.first = now
                self.last = now
                if not self._is_eog(token):
                    self.completion_tokens += 1
                yield token
        finally:
            inner.close()

    def usage(self, queue_s: float) -> dict[str, Any]:
        """Groq's ``usage`` for the generation just done."""
        end = time.perf_counter()
        first = self.first if self.first is not None else end
        last = self.last if self.last is not None else first
        prompt_s = first - self.start
        completion_s = last - first
        cached = max(0, self.prompt_tokens - (self.evaluated if self.evaluated is not None else self.prompt_tokens))
        return {
            "queue_time": round(queue_s, 9),
            "prompt_tokens": self.prompt_tokens,
            "prompt_time": round(prompt_s, 9),
            "completion_tokens": self.completion_tokens,
            "completion_time": round(completion_s, 9),
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "total_time": round(prompt_s + completion_s, 9),
            "prompt_tokens_details": {"cached_tokens": cached},
        }


class FrontServer(ThreadingHTTPServer):
    """A Groq-shaped chat-completions endpoint over one in-process ``llama_cpp.Llama``."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], llm: Any, lock_timeout: float) -> None:
        super().__init__(address, Handler)
        self.llm = llm
        self.meter = Meter(llm)
        self.lock = threading.Lock()
        self.lock_timeout = lock_timeout


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # a client that stops sending is dropped
    server: FrontServer

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        if self.path.rstrip("/") in ("/openai/v1/models", "/health"):
            self._json(200, {"object": "list", "data": [{"id": MODEL_NAME, "object": "model"}]})
        else:
            self._error(404, f"no route {self.path}")

    def do_POST(self) -> None:
        arrived = time.perf_counter()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.split("?")[0].rstrip("/") != CHAT_PATH:
            self._error(404, f"no route {self.path}")
            return
        try:
            body = json.loads(raw)
            messages = body["messages"]
            assert isinstance(messages, list) and messages
        except (ValueError, KeyError, TypeError, AssertionError):
            self._error(400, "the body must be JSON with a non-empty 'messages' list")
            return
        params = _generation_params(body)
        if not self.server.lock.acquire(timeout=self.server.lock_timeout):
            self._error(503, "the model stayed busy too long", "service_unavailable")
            return
        self.streaming = False
        try:
            queue_s = time.perf_counter() - arrived
            meter = self.server.meter
            meter.begin()
            model = str(body.get("model") or MODEL_NAME)
            if body.get("stream"):
                self._stream(messages, params, model, queue_s)
            else:
                result = self.server.llm.create_chat_completion(messages=messages, stream=False, **params)
                choice = result["choices"][0]
                self._json(
                    200,
                    {
                        "id": f"chatcmpl-{uuid.uuid4()}",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": model,
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": choice["message"].get("content") or ""},
                                "logprobs": None,
                                "finish_reason": choice.get("finish_reason") or "stop",
                            }
                        ],
                        "usage": meter.usage(queue_s),
                        "system_fingerprint": "fp_llamacpp",
                        "x_groq": {"id": _req_id(), "seed": params["seed"]},
                    },
                )
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as err:  # a generation error is the client's 500, not the server's end
            if self.streaming:  # the status is sent: cut the stream, the client sees it incomplete
                self.close_connection = True
            else:
                self._error(500, f"{type(err).__name__}: {err}", "internal_server_error")
        finally:
            self.server.lock.release()

    def _stream(self, messages: list[Any], params: dict[str, Any], model: str, queue_s: float) -> None:
        chunks = self.server.llm.create_chat_completion(messages=messages, stream=True, **params)
        cid, rid, created = f"chatcmpl-{uuid.uuid4()}", _req_id(), int(time.time())
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.streaming = True

        def event(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> None:
            chunk = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_llamacpp",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
                **extra,
            }
            self._chunk(b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n")

        finish = "length"
        started = False
        for chunk in chunks:
            choice = chunk["choices"][0]
            delta = choice.get("delta") or {}
            if not started:  # the role-only first chunk, sent with the first generated token
                event({"role": "assistant", "content": ""}, x_groq={"id": rid, "seed": params["seed"]})
                started = True
            if delta.get("content"):
                event({"content": delta["content"]})
            if choice.get("finish_reason"):
                finish = choice["finish_reason"]
        if not started:
            event({"role": "assistant", "content": ""}, x_groq={"id": rid, "seed": params["seed"]})
        usage = self.server.meter.usage(queue_s)
        event({}, finish, x_groq={"id": rid, "usage": usage}, usage=usage)
        self._chunk(b"data: [DONE]\n\n")
        self._chunk(b"")

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _json(self, status: int, obj: dict[str, Any]) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
        self._json(status, {"error": {"message": message, "type": kind}})


def _req_id() -> str:
    return "req_" + uuid.uuid4().hex[:26]


def _generation_params(body: dict[str, Any]) -> dict[str, Any]:
    """The request's sampling parameters as ``create_chat_completion`` takes them, with Groq's
    defaults (temperature 1, top_p 1, a fresh seed per request when none is given)."""
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    seed = body.get("seed")
    stop = body.get("stop")
    return {
        "temperature": float(body["temperature"]) if body.get("temperature") is not None else 1.0,
        "top_p": float(body["top_p"]) if body.get("top_p") is not None else 1.0,
        "seed": int(seed) if seed is not None else random.SystemRandom().randrange(2**31),
        "max_tokens": int(max_tokens) if max_tokens is not None else None,
        "stop": [stop] if isinstance(stop, str) else list(stop or []),
    }


def serve(args: argparse.Namespace) -> None:
    """Load the model, bind, print ``READY <port>`` and serve until SIGTERM/SIGINT."""
    from llama_cpp import Llama

    llm = Llama(
        model_path=args.model,
        n_ctx=args.n_ctx,
        n_threads=args.threads,
        n_threads_batch=args.threads_batch,
        verbose=False,
    )
    server = FrontServer((args.host, args.port), llm, lock_timeout=args.request_timeout)

    def stop(signum: int, frame: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"READY {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


# --------------------------------------------------------------------------------------
# The benchmark (runs under the plugin's interpreter; uses the plugin through pytest only)
# --------------------------------------------------------------------------------------

TEST_TEMPLATE = '''"""Generated by benchmarks/bench_gate_real.py."""

import os

import groq
import pytest

PROMPTS = {prompts!r}
TEMPERATURE = {temperature!r}
MAX_TOKENS = {max_tokens!r}


{repeat}@pytest.mark.parametrize("prompt", PROMPTS, ids=[f"q{{i:02d}}" for i in range(len(PROMPTS))])
def test_answer(llm_calls, prompt):
    with groq.Groq(
        base_url=os.environ["BENCH_BASE_URL"],
        api_key="x",
        timeout=float(os.environ["BENCH_TIMEOUT"]),
        max_retries=0,
    ) as client:
        stream = client.chat.completions.create(
            model={model!r},
            messages=[{{"role": "user", "content": prompt}}],
            stream=True,
            max_completion_tokens=MAX_TOKENS,
            temperature=TEMPERATURE,
        )
        text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert isinstance(text, str)
'''


class Front:
    """The front server as a child process of ``--llama-python``; stopped by ``stop``."""

    def __init__(self, args: argparse.Namespace, log: Path) -> None:
        self.log = log
        self._log_file = log.open("wb")
        cmd = [
            args.llama_python,
            str(Path(__file__).resolve()),
            "--serve",
            "--port",
            "0",
            "--model",
            args.model,
            "--threads",
            str(args.threads),
            "--threads-batch",
            str(args.threads_batch),
            "--n-ctx",
            str(args.n_ctx),
            "--request-timeout",
            str(args.request_timeout),
        ]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._log_file)
        lines: queue.Queue[bytes] = queue.Queue()
        assert self.proc.stdout is not None
        stdout = self.proc.stdout
        threading.Thread(target=lambda: [lines.put(line) for line in iter(stdout.readline, b"")], daemon=True).start()
        try:
            line = lines.get(timeout=args.ready_timeout)
        except queue.Empty:
            line = b""
        match = re.match(rb"READY (\d+)", line)
        if not match:
            self.stop()
            raise SystemExit(f"the front server did not start: {log.read_text(errors='replace')[-2000:]}")
        self.url = f"http://127.0.0.1:{int(match.group(1))}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log_file.close()

    def chat(self, body: dict[str, Any], timeout: float) -> dict[str, Any]:
        request = urllib.request.Request(
            self.url + CHAT_PATH, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return dict(json.load(response))


class Suite:
    """One generated test file and its folder; each run is a pytest subprocess."""

    def __init__(
        self,
        root: Path,
        name: str,
        prompts: list[str],
        temperature: float,
        max_tokens: int,
        repeat: int,
        args: argparse.Namespace,
        front: Front,
    ) -> None:
        self.dir = root / name
        self.dir.mkdir(parents=True)
        (self.dir / "pytest.ini").write_text("[pytest]\n")
        self.prompts, self.temperature, self.repeat = prompts, temperature, repeat
        self.args, self.front = args, front
        self.baseline = self.dir / "baseline.json"
        self.runs: list[dict[str, Any]] = []
        self.write(max_tokens)

    def write(self, max_tokens: int) -> None:
        mark = f"@pytest.mark.llm_repeat(n={self.repeat})\n" if self.repeat > 1 else ""
        source = TEST_TEMPLATE.format(
            prompts=self.prompts, temperature=self.temperature, max_tokens=max_tokens, repeat=mark, model=MODEL_NAME
        )
        (self.dir / "test_gate_real.py").write_text(source)

    def run(self, label: str, *, save: bool) -> dict[str, Any]:
        """One live pytest run (saving the baseline or comparing with it): its JSON report,
        retried once after a minute when pytest crashed (exit code other than 0/1)."""
        for attempt in (1, 2):
            report = self.dir / f"{label}.report.json"
            junit = self.dir / f"{label}.junit.xml"
            report.unlink(missing_ok=True)
            gate = [f"--llm-save={self.baseline}"] if save else [f"--llm-compare={self.baseline}"]
            gate += [] if save else [f"--llm-compare-fail={self.args.threshold}"]
            cmd = [
                sys.executable,
                "-m",
                "pytest",
                "test_gate_real.py",
                "-q",
                "-p",
                "no:cacheprovider",
                "-p",
                "no:randomly",
                f"--llm-base-url={self.front.url}",
                "--llm-live",
                "--llm-record-mode=none",
                f"--llm-report-json={report}",
                f"--junitxml={junit}",
                *gate,
            ]
            env = {
                **pytest_env(self.args),
                "BENCH_BASE_URL": self.front.url,
                "BENCH_TIMEOUT": str(self.args.request_timeout),
            }
            t0, plugin = time.perf_counter(), plugin_fingerprint(self.args.plugin_tree)
            try:
                done = subprocess.run(
                    cmd, cwd=self.dir, env=env, capture_output=True, text=True, timeout=self.args.run_timeout
                )
                code, out = done.returncode, done.stdout + done.stderr
            except subprocess.TimeoutExpired as err:
                code, out = -1, f"timed out after {self.args.run_timeout} s\n{err.stdout or ''}{err.stderr or ''}"
            (self.dir / f"{label}.log").write_text(" ".join(cmd) + "\n\n" + str(out))
            seconds = time.perf_counter() - t0
            self.runs.append(
                {"suite": self.dir.name, "run": label, "exit": code, "seconds": round(seconds, 1), "plugin": plugin}
            )
            print(f"  {self.dir.name} {label}: exit {code} ({seconds:.0f} s, plugin {plugin})", flush=True)
            self._check_no_cassettes()
            if code in (0, 1) and report.is_file():
                return _with_outcomes(dict(json.loads(report.read_text())), junit)
            if attempt == 1:
                print(f"  pytest crashed (exit {code}); retrying in 60 s. Tail:\n{str(out)[-1500:]}", flush=True)
                time.sleep(60)
        raise SystemExit(f"{self.dir.name} {label}: pytest failed twice, see {self.dir / (label + '.log')}")

    def _check_no_cassettes(self) -> None:
        written = [p for p in self.dir.rglob("*") if p.suffix in (".yaml", ".yml") or p.name == "cassettes"]
        if written:
            raise SystemExit(f"a live run wrote cassettes: {written}")


def pytest_env(args: argparse.Namespace) -> dict[str, str]:
    """The pytest runs' environment: no ``PYTEST_ADDOPTS`` (no -n, no extra plugins), no
    bytecode files in the work folder, ``--plugin-tree`` first on ``PYTHONPATH``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if args.plugin_tree:
        env["PYTHONPATH"] = os.pathsep.join([str(args.plugin_tree.resolve()), *filter(None, [env.get("PYTHONPATH")])])
    return env


def plugin_location(args: argparse.Namespace, cwd: Path) -> str:
    """Where the pytest runs import ``pytest_llmlatency`` from (checked once, in a subprocess
    started in the work folder, as they are: ``-c`` and ``-m`` put the current folder first)."""
    code = "import pytest_llmlatency as p; print(p.__file__)"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=pytest_env(args), capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise SystemExit(f"pytest_llmlatency cannot be imported by {sys.executable}: {done.stderr[-1000:]}")
    return str(Path(done.stdout.strip()).parent)


def plugin_fingerprint(tree: Path | None = None) -> str:
    """A short hash of the plugin's sources (``pytest_llmlatency/**/*.py``: ``tree``'s, else the
    installed one's), taken before each run: the gate may be edited while the benchmark runs,
    and a table mixing two versions of it says so. Found without importing the plugin."""
    import hashlib
    import importlib.util

    if tree is not None:
        root = tree / "pytest_llmlatency"
    else:
        spec = importlib.util.find_spec("pytest_llmlatency")
        if spec is None or not spec.submodule_search_locations:
            return "not-installed"
        root = Path(next(iter(spec.submodule_search_locations)))
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"(unreadable)")
    return digest.hexdigest()[:12]


def _with_outcomes(report: dict[str, Any], junit: Path) -> dict[str, Any]:
    """Each test's pytest outcome (``_outcome``: passed, failed, error, skipped; ``_failure``:
    the start of its failure message), from the run's JUnit XML."""
    outcomes: dict[str, tuple[str, str]] = {}
    if junit.is_file():
        for case in ET.parse(junit).getroot().iter("testcase"):
            outcome, text = "passed", ""
            for kind in ("failure", "error", "skipped"):
                element = case.find(kind)
                if element is not None:
                    outcome = "failed" if kind == "failure" else kind
                    text = (element.get("message") or element.text or "")[:300]
                    break
            outcomes[str(case.get("name"))] = (outcome, text)
    for result in _results(report):
        name = str(result.get("nodeid")).rsplit("::", 1)[-1]
        result["_outcome"], result["_failure"] = outcomes.get(name, ("unknown", ""))
    return report


def _results(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's per-test entries (the ones with a node id)."""
    if not isinstance(report.get("tests"), list):
        raise SystemExit(f"unexpected --llm-report-json layout: keys {sorted(report)}")
    return [r for r in report["tests"] if isinstance(r, dict)]


def _e2e(comparison: dict[str, Any]) -> dict[str, Any] | None:
    return next((s for s in comparison.get("shifts") or [] if s.get("metric") == "e2e"), None)


def _reason(shift: dict[str, Any] | None) -> str:
    """The kind of verdict, numbers left out, e.g. 'certain at # vs # call(s): the token counts alone add ...'."""
    if shift is None:
        return "(no e2e shift)"
    parts = str(shift.get("detail") or "").split("; ")
    if not parts[-1]:
        return str(shift.get("verdict"))
    tail = "; ".join(parts[-2:]) if parts[-1].startswith("about") and len(parts) > 1 else parts[-1]
    while re.search(r"\([^()]*\)", tail):  # parentheses hold the numbers
        tail = re.sub(r"\s*\([^()]*\)", "", tail)
    tail = re.sub(r"[-+]?\d[\d,.]*", "#", tail)
    return re.sub(r"\s+", " ", tail)[:120]


def tally(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Comparisons, regressed, certain, inconclusive, improved over the runs' reports."""
    counts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    examples: list[str] = []
    unsure: list[str] = []
    tokens_changed = 0
    calls = timed = 0
    for report in reports:
        for result in _results(report):
            for call in result.get("calls") or []:
                calls += 1
                timed += all(call.get(k) is not None for k in ("queue_ms", "prompt_ms", "completion_ms"))
            comparison = result.get("comparison")
            if not comparison:
                counts["not compared"] += 1
                continue
            counts["comparisons"] += 1
            shift = _e2e(comparison)
            verdicts = {s.get("verdict") for s in comparison.get("shifts") or []}
            if comparison.get("regressed"):
                counts["regressed"] += 1
                counts["certain"] += any(s.get("certain") for s in comparison["shifts"] if s["verdict"] == "regressed")
                reasons[_reason(shift)] += 1
                if len(examples) < 3:
                    examples.append(str(comparison.get("message") or "")[:150])
            elif "inconclusive" in verdicts:
                counts["inconclusive"] += 1
                reason = "(inconclusive) " + _reason(shift)
                if not reasons[reason]:  # one example of each kind
                    unsure.append(str(comparison.get("message") or "")[:150])
                reasons[reason] += 1
            elif "improved" in verdicts:
                counts["improved"] += 1
            old_tokens = [s for s in comparison.get("shifts") or [] if s.get("metric") == "completion_tokens"]
            tokens_changed += any(s.get("old") != s.get("new") for s in old_tokens)
            if result.get("_outcome") != "passed" and not comparison.get("regressed"):
                counts["failed otherwise"] += 1
                if len(examples) < 3:
                    examples.append(f"(failed, not the gate) {result.get('_failure')}"[:150])
    return {
        "comparisons": counts["comparisons"],
        "regressed": counts["regressed"],
        "certain": counts["certain"],
        "inconclusive": counts["inconclusive"],
        "improved": counts["improved"],
        "not_compared": counts["not compared"],
        "failed_otherwise": counts["failed otherwise"],
        "calls": calls,
        "calls_with_groq_timings": timed,
        "answer_length_changed": tokens_changed,
        "reasons": reasons.most_common(4),
        "examples": examples,
        "inconclusive_examples": unsure[:3],
    }


def _calls_by_test(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {str(r.get("nodeid")): list(r.get("calls") or []) for r in _results(report)}


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    return (ordered[n // 2] + ordered[(n - 1) // 2]) / 2 if n else float("nan")


def call_stats(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """What the server did: median e2e, tokens per call, tok/s; the spread of each test's
    e2e and completion tokens across runs (max/min, median over tests)."""
    per_test: dict[str, list[dict[str, Any]]] = {}
    for report in reports:
        for test, calls in _calls_by_test(report).items():
            per_test.setdefault(test, []).extend(calls)
    flat = [c for calls in per_test.values() for c in calls]

    def ratio(calls: list[dict[str, Any]], key: str) -> float:
        values = [float(c[key]) for c in calls if c.get(key)]
        return max(values) / min(values) if len(values) > 1 and min(values) > 0 else float("nan")

    speeds = [
        c["completion_tokens"] / (c["completion_ms"] / 1000)
        for c in flat
        if c.get("completion_tokens") and c.get("completion_ms")
    ]
    return {
        "median_e2e_ms": _median([c["e2e_ms"] for c in flat if c.get("e2e_ms") is not None]),
        "median_completion_tokens": _median([c["completion_tokens"] for c in flat if c.get("completion_tokens")]),
        "median_tok_s": _median(speeds),
        "median_e2e_max_over_min": _median([ratio(c, "e2e_ms") for c in per_test.values()]),
        "median_tokens_max_over_min": _median([ratio(c, "completion_tokens") for c in per_test.values()]),
        "median_cached_tokens": _median([float(c.get("cached_tokens") or 0) for c in flat]),
    }


def aa(front: Front, root: Path, args: argparse.Namespace, temperature: float, runs: int) -> dict[str, Any]:
    print(f"A/A at temperature {temperature:g}: 1 baseline run + {runs} compared runs", flush=True)
    suite = Suite(
        root,
        f"aa-t{temperature:g}",
        _prompts(AA_PROMPTS, args.tests),
        temperature,
        args.max_tokens,
        args.repeat,
        args,
        front,
    )
    reports = [suite.run("save", save=True)]
    compared = [suite.run(f"compare{i + 1}", save=False) for i in range(runs)]
    return {
        "temperature": temperature,
        "runs": runs,
        **tally(compared),
        "server": call_stats(reports + compared),
        "pytest_runs": suite.runs,
    }


def detect(front: Front, root: Path, args: argparse.Namespace) -> dict[str, Any]:
    low, high = args.detect_tokens
    print(f"detection: baseline at max_completion_tokens={low}, then {high}", flush=True)
    suite = Suite(
        root, "detect", _prompts(LONG_PROMPTS, args.tests), args.detect_temperature, low, args.repeat, args, front
    )
    before = _calls_by_test(suite.run("save", save=True))
    suite.write(high)
    report = suite.run("compare", save=False)
    after = _calls_by_test(report)
    longer = failed = named = 0
    ratios: list[float] = []
    changed: list[str] = []
    for result in _results(report):
        test = str(result.get("nodeid"))
        old = _median([c["completion_tokens"] for c in before.get(test, []) if c.get("completion_tokens")])
        new = _median([c["completion_tokens"] for c in after.get(test, []) if c.get("completion_tokens")])
        if old and new == new:
            ratios.append(new / old)
            longer += new >= 1.5 * old
        comparison = result.get("comparison") or {}
        if comparison.get("regressed"):
            failed += 1
            message = str(comparison.get("message"))
            named += "max_completion_tokens" in message
            said = re.search(r"Request changed: [^.]*\.", message)
            changed.append(said.group(0) if said else "(no 'Request changed')")
    counts = tally([report])
    return {
        "tokens": [low, high],
        "temperature": args.detect_temperature,
        "tests": len(after),
        "answers_50pct_longer": longer,
        "median_length_ratio": _median(ratios),
        "regressed": failed,
        "certain": counts["certain"],
        "inconclusive": counts["inconclusive"],
        "message_names_parameter": named,
        "request_changed": Counter(changed).most_common(3),
        "examples": counts["examples"],
        "server": call_stats([report]),
        "pytest_runs": suite.runs,
    }


def print_tables(result: dict[str, Any]) -> None:
    threshold = result["threshold"]
    print(f"\nA/A on a real LLM ({MODEL_NAME}, llama.cpp CPU), gate {threshold}, {result['tests']} tests per run")
    print(
        "| T | runs | comparisons | regressed | certain | inconclusive | improved | other failures "
        "| length changed | calls with Groq timings | median e2e | median tokens | tok/s | per-test e2e max/min "
        "| tokens max/min |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in result["aa"]:
        s = row["server"]
        print(
            f"| {row['temperature']:g} | {row['runs']} | {row['comparisons']} | {row['regressed']} | {row['certain']} "
            f"| {row['inconclusive']} | {row['improved']} | {row['failed_otherwise']} "
            f"| {row['answer_length_changed']} | {row['calls_with_groq_timings']}/{row['calls']} "
            f"| {s['median_e2e_ms']:,.0f} ms "
            f"| {s['median_completion_tokens']:g} | {s['median_tok_s']:.0f} | {s['median_e2e_max_over_min']:.2f} "
            f"| {s['median_tokens_max_over_min']:.2f} |"
        )
    print("\nReasons of the regressed / inconclusive verdicts (numbers as #):")
    print("| T | count | reason (e2e shift's detail) |")
    print("|---|---|---|")
    for row in result["aa"]:
        for reason, count in row["reasons"]:
            print(f"| {row['temperature']:g} | {count} | {reason} |")
    print("\nExample messages (first 150 characters):")
    for row in result["aa"]:
        for example in row["examples"] + row["inconclusive_examples"]:
            print(f"- T={row['temperature']:g}: {example}")
    d = result.get("detect")
    if d:
        print(
            f"\nDetection: max_completion_tokens {d['tokens'][0]} -> {d['tokens'][1]}, T={d['temperature']:g}, "
            f"long-running prompts"
        )
        print(
            "| tests | answers >= 50% longer | median length ratio | regressed | certain | inconclusive | names param |"
        )
        print("|---|---|---|---|---|---|---|")
        print(
            f"| {d['tests']} | {d['answers_50pct_longer']} | {d['median_length_ratio']:.2f} | {d['regressed']} "
            f"| {d['certain']} | {d['inconclusive']} | {d['message_names_parameter']}/{d['regressed']} |"
        )
        for example in d["examples"][:1]:
            print(f"- {example}")
        for said, count in d["request_changed"]:
            print(f"- {count} x: {said}")


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """The module docstring as it is written, and every option's default."""


def _temperature_runs(text: str) -> tuple[float, int]:
    try:
        t, r = text.split(":")
        return float(t), int(r)
    except ValueError:
        raise ValueError(f"{text!r}: want TEMPERATURE:RUNS, e.g. 1:3") from None


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=_Formatter)
    bench = parser.add_argument_group("benchmark")
    bench.add_argument("--tests", type=int, default=10, help="K: tests per run, each a different prompt")
    bench.add_argument(
        "--temperatures",
        nargs="*",
        default=["1:3", "0:2"],
        metavar="T:R",
        help="A/A cells: temperature T with R compared runs after the baseline run; none: detection only",
    )
    bench.add_argument("--max-tokens", type=int, default=120, help="max_completion_tokens of the A/A requests")
    bench.add_argument("--repeat", type=int, default=1, help="@pytest.mark.llm_repeat(n=...) on each test (1: none)")
    bench.add_argument("--threshold", default="e2e:10%", help="--llm-compare-fail expression")
    bench.add_argument(
        "--detect-tokens",
        type=int,
        nargs=2,
        default=[40, 300],
        metavar=("OLD", "NEW"),
        help="detection check: max_completion_tokens of the baseline and of the compared run",
    )
    bench.add_argument("--detect-temperature", type=float, default=1.0, help="temperature of the detection check")
    bench.add_argument("--no-detect", action="store_true", help="skip the detection check")
    bench.add_argument(
        "--plugin-tree",
        type=Path,
        help="run the gate from this folder's pytest_llmlatency package (first on PYTHONPATH), e.g. a snapshot: "
        "git archive HEAD pytest_llmlatency | tar -x -C /tmp/snap; unset: the installed plugin",
    )
    bench.add_argument("--out", type=Path, help="write the tables as JSON here")
    bench.add_argument("--keep", type=Path, help="keep the work folder (test files, reports, logs) here")
    bench.add_argument("--run-timeout", type=float, default=900, help="seconds allowed to one pytest run")
    bench.add_argument("--ready-timeout", type=float, default=120, help="seconds allowed to the server's start")
    server = parser.add_argument_group("front server")
    server.add_argument("--llama-python", default=DEFAULT_LLAMA_PYTHON, help="interpreter with llama_cpp")
    server.add_argument("--model", default=DEFAULT_MODEL, help="GGUF model file")
    server.add_argument("--threads", type=int, default=1, help="llama.cpp generation threads")
    server.add_argument(
        "--threads-batch",
        type=int,
        default=1,
        help="llama.cpp prompt-processing threads (2 on a 2-core host under load: prefill stalls of seconds)",
    )
    server.add_argument("--n-ctx", type=int, default=2048, help="context size")
    server.add_argument(
        "--request-timeout", type=float, default=120, help="seconds per request (client timeout, model-lock wait)"
    )
    server.add_argument(
        "--serve", action="store_true", help="only run the front server (under --llama-python), print READY <port>"
    )
    server.add_argument("--host", default="127.0.0.1", help="--serve: address to bind")
    server.add_argument("--port", type=int, default=0, help="--serve: port (0: ephemeral)")
    args = parser.parse_args(argv)
    try:
        args.temperatures = [_temperature_runs(text) for text in args.temperatures]
    except ValueError as err:
        parser.error(f"--temperatures: {err}")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.serve:
        serve(args)
        return
    t0 = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="bench_gate_real-"))
    front: Front | None = None
    try:
        plugin = plugin_location(args, root)
        print(f"plugin {plugin} (sources {plugin_fingerprint(args.plugin_tree)})", flush=True)
        front = Front(args, root / "server.log")
        print(f"front server {front.url} (log {front.log})", flush=True)
        warm = {"model": MODEL_NAME, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8}
        front.chat(warm, timeout=args.request_timeout)  # load the weights into the caches
        result: dict[str, Any] = {
            "loadavg_start": list(os.getloadavg()),
            "threads": args.threads,
            "threads_batch": args.threads_batch,
            "plugin": plugin,
            "model": MODEL_NAME,
            "model_file": args.model,
            "threshold": args.threshold,
            "tests": args.tests,
            "max_tokens": args.max_tokens,
            "repeat": args.repeat,
            "aa": [aa(front, root, args, t, r) for t, r in args.temperatures],
        }
        if not args.no_detect:
            result["detect"] = detect(front, root, args)
        result["loadavg_end"] = list(os.getloadavg())
        cells = [*result["aa"], *([result["detect"]] if "detect" in result else [])]
        result["plugin_versions"] = sorted({r["plugin"] for cell in cells for r in cell["pytest_runs"]})
        result["seconds"] = round(time.perf_counter() - t0, 1)
        print_tables(result)
        load = f"load average {result['loadavg_start'][1]:.2f} -> {result['loadavg_end'][1]:.2f} (5 min)"
        print(f"\n({result['seconds']:.0f} s; {load}; {os.cpu_count()} CPUs)")
        versions = result["plugin_versions"]
        if len(versions) > 1:
            print(f"WARNING: the plugin's sources changed during the benchmark ({', '.join(versions)}):")
            for cell in cells:
                print("  " + ", ".join(f"{r['suite']} {r['run']} {r['plugin']}" for r in cell["pytest_runs"]))
        else:
            print(f"plugin sources {versions[0]} in every run")
        if args.out:
            args.out.write_text(json.dumps(result, indent=2) + "\n")
            print(f"wrote {args.out}")
    finally:
        if front is not None:
            front.stop()
        if args.keep:
            shutil.copytree(root, args.keep, dirs_exist_ok=True)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
