"""Every route of the gateway in one table: it registers the views and writes the OpenAPI spec."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from pydantic import BaseModel

from api_gateway import schemas as s
from api_gateway.api_keys import scope_for
from api_gateway.auth import ROUTE_AUTH, ROUTE_SCOPE, Auth
from api_gateway.http import audiences as a
from api_gateway.http import campaigns as c
from api_gateway.http import prospects as p
from api_gateway.http import replies as rp
from api_gateway.http import reports as r
from api_gateway.http import sending as sn
from api_gateway.http import sessions
from api_gateway.http import warmup as w
from shared.ses_account import SesAccount


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    view: Callable[[web.Request], Awaitable[web.StreamResponse]]
    summary: str
    auth: Auth = "admin"
    body: type[BaseModel] | None = None
    body_type: str = "application/json"
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    errors: tuple[int, ...] = (400,)


ROUTES: tuple[Route, ...] = (
    Route("POST", "/api/auth/login", sessions.login, "Sign in (an Outreach admin) for an admin token",
          auth="none", body=s.LoginRequest, response=s.LoginToken, errors=(400, 401, 415, 429, 503)),
    Route("POST", "/api/auth/logout", sessions.logout, "Sign out: every token of this admin stops working",
          status=204, errors=(400, 401)),
    Route("GET", "/api/system", sessions.system, "Where mail goes (the SES emulator or Amazon SES)",
          response=s.SystemInfo, errors=()),
    Route("GET", "/api/ses/account", sessions.ses_account,
          "The SES account: sandbox, sending, quota, identity, configuration set (unknown where SES does not say)",
          response=SesAccount, errors=()),
    Route("POST", "/api/prospects", p.create_prospect, "Create a prospect", body=s.ProspectCreate,
          response=s.Prospect, status=201, errors=(400, 409, 415)),
    Route("GET", "/api/prospects", p.list_prospects, "Search and page prospects", query=s.ProspectQuery,
          response=s.ProspectPage, errors=(400, 404)),
    Route("POST", "/api/prospects/import", p.import_prospects, "Import prospects from CSV",
          body_type="text/csv", query=s.ImportQuery, response=s.ImportReport, errors=(400, 413, 415)),
    Route("POST", "/api/prospects/bulk", p.bulk_change,
          "Add or remove tags, or change the status, of every prospect a rule matches (one statement)",
          body=s.ProspectBulk, response=s.BulkResult, errors=(400, 409, 415)),
    Route("GET", "/api/prospects/{id}", p.get_prospect, "One prospect", response=s.Prospect,
          errors=(400, 404)),
    Route("PATCH", "/api/prospects/{id}", p.update_prospect, "Change a prospect's fields or status",
          body=s.ProspectUpdate, response=s.Prospect, errors=(400, 404, 409, 415)),
    Route("DELETE", "/api/prospects/{id}", p.delete_prospect, "Erase a prospect (suppression kept)",
          status=204, errors=(400, 404)),
    Route("GET", "/api/tags", a.list_tags, "Tags with their prospect counts", response=s.TagList, errors=()),
    Route("GET", "/api/fields", a.list_fields, "Placeholders a template may use, custom fields among them",
          response=s.FieldList, errors=()),
    Route("POST", "/api/segments", a.create_segment, "Save a named audience rule", body=s.SegmentCreate,
          response=s.Segment, status=201, errors=(400, 409, 415)),
    Route("GET", "/api/segments", a.list_segments, "Saved segments, by name", response=s.SegmentList, errors=()),
    Route("POST", "/api/segments/preview", a.preview_rule,
          "How many prospects an unsaved rule matches now, and the newest of them",
          body=s.RulePreview, response=s.AudienceSample, errors=(400, 415)),
    Route("GET", "/api/segments/{id}", a.get_segment, "One segment", response=s.Segment, errors=(400, 404)),
    Route("PATCH", "/api/segments/{id}", a.update_segment, "Rename a segment or change its rule",
          body=s.SegmentUpdate, response=s.Segment, errors=(400, 404, 409, 415)),
    Route("DELETE", "/api/segments/{id}", a.delete_segment, "Delete a segment", status=204, errors=(400, 404)),
    Route("GET", "/api/segments/{id}/count", a.count_segment,
          "How many prospects the segment matches now, and the newest of them",
          query=s.AudienceQuery, response=s.AudienceSample, errors=(400, 404)),
    Route("POST", "/api/campaigns", c.create_campaign, "Create a draft campaign", body=s.CampaignCreate,
          response=s.Campaign, status=201, errors=(400, 415)),
    Route("GET", "/api/campaigns", c.list_campaigns, "Campaigns with headline stats", query=s.CampaignQuery,
          response=s.CampaignPage),
    Route("POST", "/api/campaigns/send", c.send_campaign, "Start or resume sending", body=s.CampaignRef,
          response=s.SendAccepted, status=202, errors=(400, 404, 409, 415)),
    Route("GET", "/api/campaigns/{id}", c.get_campaign, "A campaign and its stats",
          response=s.CampaignWithStats, errors=(400, 404)),
    Route("PATCH", "/api/campaigns/{id}", c.update_campaign, "Edit a draft or paused campaign; pause it",
          body=s.CampaignUpdate, response=s.Campaign, errors=(400, 404, 409, 415)),
    Route("POST", "/api/campaigns/{id}/retry", c.retry_campaign,
          "Put failed sends (and, with include_unknown, unknown ones: they may duplicate) back in line",
          body=s.RetryRequest, response=s.RetryAccepted, status=202, errors=(400, 404, 409, 415)),
    Route("GET", "/api/campaigns/{id}/sends", r.list_sends, "The campaign's sends: search, filter, page",
          query=s.SendQuery, response=s.SendPage, errors=(400, 404)),
    Route("GET", "/api/campaigns/{id}/timeline", r.timeline, "The campaign's events over time, bucketed",
          response=s.Timeline, errors=(400, 404)),
    Route("GET", "/api/campaigns/{id}/feedback", r.feedback, "Bounces, complaints and unsubscribes, newest first",
          response=s.FeedbackList, errors=(400, 404)),
    Route("GET", "/api/campaigns/{id}/preview", c.preview_campaign, "The message as the sender would send it",
          query=s.PreviewQuery, response=s.Preview, errors=(400, 404)),
    Route("POST", "/api/campaigns/{id}/prospects/{pid}/stop", c.stop_prospect,
          "End a prospect's remaining steps in the campaign", response=s.StopResult, errors=(400, 404)),
    Route("GET", "/api/campaigns/{id}/queue", c.due_queue, "The follow-ups due next, and when anything may go",
          response=s.DueQueue, errors=(400, 404)),
    Route("GET", "/api/campaigns/{id}/stops", c.list_stops, "Prospects whose sequence stopped, and why",
          query=s.CampaignQuery, response=s.StopList, errors=(400, 404)),
    Route("GET", "/api/replies", rp.list_replies, "Received mail, newest first, with what it is and whom it matched",
          query=s.ReplyQuery, response=s.ReplyList),
    Route("GET", "/api/replies/{id}", rp.get_reply, "One received mail, beside the messages we sent that prospect",
          response=s.ReplyDetail, errors=(400, 404)),
    Route("PATCH", "/api/replies/{id}", rp.update_reply, "Mark a received mail handled (or not)",
          body=s.ReplyUpdate, response=s.ReplyDetail, errors=(400, 404, 415)),
    Route("GET", "/api/ses/reputation", r.reputation,
          "Bounce and complaint rates per sending domain (24 h, 7 days, daily) against SES's review rates",
          query=s.ReputationQuery, response=s.Reputation, errors=(400,)),
    Route("GET", "/api/ses/warmup", w.get_warmup,
          "The warm-up of each sending domain: today's allowance, what is sent, what remains", response=s.Warmup),
    Route("PUT", "/api/ses/warmup/{domain}", w.change_warmup,
          "Mark a sending domain warm, or start its warm-up again at day 1",
          body=s.WarmupChange, response=s.WarmupDomain, errors=(400, 415)),
    Route("GET", "/api/ses/sending", sn.get_sending,
          "The kill switch: whether sending on the SES configuration set is enabled, and why not",
          response=s.SendingSwitch),
    Route("PUT", "/api/ses/sending", sn.change_sending,
          "Disable sending on the configuration set, or re-enable it (SES then resets its reputation metrics)",
          body=s.SendingSwitchChange, response=s.SendingSwitch, errors=(400, 415)),
    Route("POST", "/internal/campaigns/continue", c.continue_campaign, "Re-request a sending campaign",
          auth="proxy", body=s.CampaignRef, response=s.SendAccepted, status=202, errors=(400, 404, 409, 415)),
)  # fmt: skip


def register(app: web.Application) -> None:
    """Serve every route, each guarded by the auth it declares (the one declaration)."""
    app[ROUTE_AUTH], app[ROUTE_SCOPE] = {}, {}
    for route in ROUTES:
        registered = app.router.add_route(route.method, route.path, route.view)
        app[ROUTE_AUTH][registered] = route.auth
        app[ROUTE_SCOPE][registered] = scope_for(route.method, route.path) if route.auth == "admin" else None
