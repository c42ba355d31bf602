"""The kill switch (shared.lifecycle.sending_switch): its state, and the admin's explicit
re-enable (or a manual stop). The sender applies each change to SES."""

from __future__ import annotations

from aiohttp import web

from api_gateway.http.context import actor, pool, settings
from api_gateway.schemas import SendingSwitch, SendingSwitchChange
from shared.errors import Invalid
from shared.http import model_response
from shared.lifecycle import sending_switch
from shared.requests import json_body

RESET_WARNING = (
    "Re-enabling sending makes SES reset the configuration set's reputation metrics, and "
    "the account's guard starts counting again from now. Clean the list first (remove the "
    'addresses that bounced or complained), then send {"enabled": true, "acknowledge_reset": true}.'
)


def _answer(switch: sending_switch.Switch, configuration_set: str | None) -> SendingSwitch:
    return SendingSwitch(
        enabled=switch.enabled, reason=switch.reason, changed_by=switch.changed_by, changed_at=switch.changed_at,
        applied=switch.applied, applied_at=switch.applied_at, apply_error=switch.apply_error,
        guard_from=switch.guard_from, configuration_set=configuration_set,
    )  # fmt: skip


async def get_sending(request: web.Request) -> web.Response:
    switch = await sending_switch.read(pool(request))
    return model_response(_answer(switch, settings(request).ses_configuration_set))


async def change_sending(request: web.Request) -> web.Response:
    change = await json_body(request, SendingSwitchChange)
    if change.enabled and not change.acknowledge_reset:
        raise Invalid(RESET_WARNING, code="acknowledge_reset")
    reason = change.reason or ("re-enabled by an admin" if change.enabled else "disabled by an admin")
    turn = sending_switch.turn_on if change.enabled else sending_switch.turn_off
    # Already so: unchanged, and answered as it stands.
    switch = await turn(pool(request), reason, actor(request)) or await sending_switch.read(pool(request))
    return model_response(_answer(switch, settings(request).ses_configuration_set))
