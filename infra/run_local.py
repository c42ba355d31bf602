"""`make run`: every service as a local process, in the foreground.

Reads the defaults of .env.example (any variable already in the environment
wins), creates the database if missing and applies migrations, starts the
local SES emulator when SES_ENDPOINT_URL is not given (and registers the
domain of SES_FROM_EMAIL with it, as an operator verifies it in SES), then
runs every service. Ctrl-C or SIGTERM stops them all; if one dies, all stop.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICES = {
    "api-gateway": "api_gateway",
    "event-ingest": "event_ingest",
    "unsubscribe": "unsubscribe",
    "sender": "sender",
    "projector": "projector",
}
STOP_TIMEOUT = 40.0


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    return values


def environment() -> dict[str, str]:
    env = read_env_file(ROOT / ".env.example")
    env.update(os.environ)  # the environment wins over the file's defaults
    env.setdefault("LOG_FORMAT", "console")
    env["PYTHONUNBUFFERED"] = "1"
    return env


async def wait_for_port(host: str, port: int, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            _, writer = await asyncio.open_connection(host, port)
            writer.close()
            return
        except OSError:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"nothing answers on {host}:{port}") from None
            await asyncio.sleep(0.1)


def free_port(preferred: int) -> int:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
        except OSError:
            sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def run_cli(env: dict[str, str], command: str) -> None:
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "shared.cli", command, env=env)
    if await process.wait() != 0:
        raise SystemExit(f"make run: `outreach {command}` failed")


async def main() -> int:
    env = environment()
    processes: dict[str, asyncio.subprocess.Process] = {}
    await run_cli(env, "migrate")
    if not env.get("SES_ENDPOINT_URL"):
        port = free_port(int(env.get("SES_EMULATOR_PORT", "4566")))
        moto = Path(sys.executable).with_name("moto_server")
        processes["ses-emulator"] = await asyncio.create_subprocess_exec(
            str(moto),
            "-H",
            "127.0.0.1",
            "-p",
            str(port),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await wait_for_port("127.0.0.1", port)
        env["SES_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
        print(f"make run: local SES emulator at {env['SES_ENDPOINT_URL']}", file=sys.stderr)
        await run_cli(env, "ses-register-identity")
    for name, module in SERVICES.items():
        processes[name] = await asyncio.create_subprocess_exec(sys.executable, "-m", module, env=env)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    waits = {asyncio.create_task(p.wait(), name=n): n for n, p in processes.items()}
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([*waits, stopper], return_when=asyncio.FIRST_COMPLETED)
    status = 0
    for task in done:
        if task in waits:
            print(
                f"make run: {waits[task]} exited with {task.result()}; stopping all",
                file=sys.stderr,
            )
            status = 1
    for process in processes.values():
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
    try:
        async with asyncio.timeout(STOP_TIMEOUT):
            await asyncio.gather(*(p.wait() for p in processes.values()))
    except TimeoutError:
        for process in processes.values():
            if process.returncode is None:
                process.kill()
    return status


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
