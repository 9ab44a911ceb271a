"""The generated stubs type what users write: mypy --strict over tests/typing/usage.py, which
holds correct calls and, marked ``# type: ignore[code]``, mistakes the stubs must reject
(``--warn-unused-ignores`` turns a mistake the stubs stopped catching into a failure)."""

import pathlib
import subprocess
import sys

import mypy  # noqa: F401  (requirements-dev.txt; a missing mypy must fail, not skip)
import pytest

USAGE = pathlib.Path(__file__).parent / "typing" / "usage.py"


@pytest.mark.parametrize("python_version", ["3.9", "3.13"])
def test_stubs_type_the_documented_calls_and_reject_mistakes(python_version: str) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--warn-unused-ignores",
            "--no-incremental",
            "--python-version",
            python_version,
            str(USAGE),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
