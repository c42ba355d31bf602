"""Creating and dropping a RabbitMQ vhost for a test run.

Through the management API when it answers, else through rabbitmqctl on this
machine (the plugin is off by default on these machines). Neither: the run
fails and says so.
"""

from __future__ import annotations

import shutil
import subprocess
from urllib.parse import quote, urlsplit, urlunsplit

import aiohttp


def with_vhost(amqp_url: str, vhost: str) -> str:
    parts = urlsplit(amqp_url)
    return urlunsplit(parts._replace(path="/" + quote(vhost, safe="")))


def _api(management_url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(management_url)
    auth = {"Authorization": aiohttp.encode_basic_auth(parts.username or "guest", parts.password or "guest")}
    netloc = parts.hostname or "127.0.0.1"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, "/api", "", "")), auth


async def create_vhost(management_url: str | None, vhost: str, user: str) -> None:
    if management_url is not None:
        base, auth = _api(management_url)
        try:
            async with aiohttp.ClientSession(headers=auth, timeout=aiohttp.ClientTimeout(total=60)) as http:
                name = quote(vhost, safe="")
                async with http.put(f"{base}/vhosts/{name}") as response:
                    response.raise_for_status()
                permissions = {"configure": ".*", "write": ".*", "read": ".*"}
                async with http.put(f"{base}/permissions/{name}/{quote(user)}", json=permissions) as response:
                    response.raise_for_status()
                return
        except aiohttp.ClientConnectionError:
            pass  # no management plugin: try rabbitmqctl
    _rabbitmqctl("add_vhost", vhost)
    _rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")


async def delete_vhost(management_url: str | None, vhost: str) -> None:
    if management_url is not None:
        base, auth = _api(management_url)
        try:
            async with aiohttp.ClientSession(headers=auth, timeout=aiohttp.ClientTimeout(total=60)) as http:
                async with http.delete(f"{base}/vhosts/{quote(vhost, safe='')}") as response:
                    if response.status not in (204, 404):
                        response.raise_for_status()
                return
        except aiohttp.ClientConnectionError:
            pass
    _rabbitmqctl("delete_vhost", vhost, missing_ok=True)


def _rabbitmqctl(*args: str, missing_ok: bool = False) -> str:
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        raise RuntimeError(
            "cannot manage RabbitMQ for the tests: the management API does not answer and rabbitmqctl "
            "is not installed (enable the plugin: rabbitmq-plugins enable rabbitmq_management)"
        )
    result = subprocess.run([ctl, "-q", *args], capture_output=True, text=True, timeout=60)
    gone = "does not exist" in result.stdout + result.stderr or "not_found" in result.stdout + result.stderr
    if result.returncode != 0 and not (missing_ok and gone):
        raise RuntimeError(
            f"rabbitmqctl {' '.join(args)} failed: {result.stderr.strip() or result.stdout.strip()}"
        )
    return result.stdout


async def close_connections(management_url: str | None, vhost: str, *, connection_name: str) -> int:
    """Force-close the vhost's client connections with this name (a broker-side drop):
    through the management API when it answers, else through rabbitmqctl."""
    if management_url is not None:
        try:
            return await _close_through_api(management_url, vhost, connection_name)
        except aiohttp.ClientConnectionError:
            pass  # no management plugin: the machine's own rabbitmqctl
    # Plain output: close_connection takes the pid as printed here (not as the JSON formatter gives it).
    listed = _rabbitmqctl("list_connections", "pid", "vhost", "client_properties", "--no-table-headers")
    closed = 0
    for line in listed.splitlines():
        pid, _, rest = line.partition("\t")
        listed_vhost, _, properties = rest.partition("\t")
        if listed_vhost == vhost and f'{{"connection_name","{connection_name}"}}' in properties:
            _rabbitmqctl("close_connection", pid, "test: connection drop", missing_ok=True)
            closed += 1
    return closed


async def _close_through_api(management_url: str, vhost: str, connection_name: str) -> int:
    base, auth = _api(management_url)
    closed = 0
    async with aiohttp.ClientSession(headers=auth, timeout=aiohttp.ClientTimeout(total=10)) as http:
        async with http.get(f"{base}/vhosts/{quote(vhost, safe='')}/connections") as response:
            response.raise_for_status()
            connections = await response.json()
        for connection in connections:
            if connection.get("client_properties", {}).get("connection_name") != connection_name:
                continue
            name = quote(connection["name"], safe="")
            headers = {"X-Reason": "test: connection drop"}
            async with http.delete(f"{base}/connections/{name}", headers=headers) as response:
                if response.status in (204, 404):
                    closed += 1
    return closed
