"""The warm-up of the sending domains (shared.warmup): today's figures, and the admin's
"this domain is warm" or "start its ramp again"."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from aiohttp import web

from api_gateway.http.context import actor, pool, settings
from api_gateway.schemas import Warmup, WarmupChange, WarmupDomain
from shared import warmup
from shared.addresses import domain_of
from shared.errors import Invalid
from shared.http import model_response
from shared.requests import json_body

DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def _answer(state: warmup.DomainState) -> WarmupDomain:
    return WarmupDomain(
        domain=state.domain, first_send_on=state.first_send_on, day=state.day, warm=state.allowance is None,
        warm_since=state.warm_since, marked_by=state.marked_by, allowance=state.allowance,
        sent_today=state.sent_today, remaining=state.remaining,
    )  # fmt: skip


async def get_warmup(request: web.Request) -> web.Response:
    config = settings(request)
    ramp = config.ramp
    configured = domain_of(config.ses_from_email)
    states = await warmup.states(pool(request), ramp, datetime.now(UTC), None, extra=[configured])
    return model_response(
        Warmup(
            enabled=bool(ramp.schedule),
            schedule=list(ramp.schedule),
            timezone=ramp.zone.key,
            domains=[_answer(state) for state in states],
        )
    )


async def change_warmup(request: web.Request) -> web.Response:
    domain = request.match_info["domain"].strip().lower()
    if not DOMAIN.match(domain):
        raise Invalid(f"{domain!r} is not a domain name.", code="invalid_domain")
    change = await json_body(request, WarmupChange)
    ramp, now = settings(request).ramp, datetime.now(UTC)
    async with pool(request).acquire() as conn:
        change_ramp = warmup.mark_warm if change.warm else warmup.restart
        await change_ramp(conn, ramp, domain, now, actor(request))
        state = await warmup.state(conn, ramp, domain, now, None)
    return model_response(_answer(state))
