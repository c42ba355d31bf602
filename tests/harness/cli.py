"""`outreach` (ops.cli) as the operator runs it: a subprocess with its own environment."""

from __future__ import annotations

import asyncio
import os
import sys


async def run_outreach(*args: str, **env: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr); `env` is added to this process's environment."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ops", *args, env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()
