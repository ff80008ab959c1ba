"""``llmlatency emulator``: starts, serves, stops on SIGTERM; rejects bad arguments."""

from __future__ import annotations

import signal
import subprocess
import sys

import groq
import pytest

from pytest_llmlatency.cli import main


def test_emulator_command_serves_and_stops_on_sigterm() -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "pytest_llmlatency.cli", "emulator", "--port", "0", "--time-scale", "20"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.startswith("Groq emulator listening on http://127.0.0.1:")
            url = line.split()[-1]
            with groq.Groq(base_url=url, api_key="gsk_test", max_retries=0) as client:
                resp = client.chat.completions.create(
                    model="openai/gpt-oss-20b", messages=[{"role": "user", "content": "hi"}]
                )
            assert resp.choices[0].message.content
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=20)
            assert proc.returncode == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=20)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--time-scale", "0"], "must be positive"),
        (["--port", "70000"], "port must be 0-65535"),
        (["--fault", "teapot"], "unknown fault 'teapot'"),
        (["--jitter", "-1"], "must be >= 0"),
    ],
)
def test_bad_arguments(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["emulator", *args])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_port_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_llmlatency.emulator import GroqEmulator

    with GroqEmulator() as emu:
        assert main(["emulator", "--port", str(emu.port)]) == 2
    assert "cannot listen on 127.0.0.1" in capsys.readouterr().err
