"""Creating and dropping a RabbitMQ vhost for a test run.

Through the management API when it answers, else through rabbitmqctl on this
machine. Neither: the run fails and says so.
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
    _rabbitmqctl("delete_vhost", vhost)


def _rabbitmqctl(*args: str) -> None:
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        raise RuntimeError(
            "cannot create a RabbitMQ vhost: the management API does not answer and rabbitmqctl "
            "is not installed (enable the plugin: rabbitmq-plugins enable rabbitmq_management)"
        )
    subprocess.run([ctl, "-q", *args], check=True, capture_output=True, timeout=60)


async def close_connections(management_url: str, vhost: str, *, connection_name: str) -> int:
    """Force-close the vhost's client connections with this name (a broker-side drop)."""
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
