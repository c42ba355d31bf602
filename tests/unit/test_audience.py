"""Audience rules: validation names the bad part's path; compiled SQL holds no user text."""

from __future__ import annotations

import json
import re
import uuid

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.audience import (
    RULE_JSON_SCHEMA,
    CountedShape,
    RuleError,
    compile_rule,
    counted_shape,
    normalize_tag,
    normalize_tags,
)

CAMPAIGN = str(uuid.uuid4())
VALID = [
    {"field": "tags", "op": "has", "value": "VIP"},
    {"field": "status", "op": "eq", "value": "active"},
    {"field": "status", "op": "in", "value": ["bounced", "complained"]},
    {"field": "email_domain", "op": "in", "value": ["Example.COM", "b.example"]},
    {"field": "created_at", "op": "before", "value": "2026-01-31"},
    {"field": "updated_at", "op": "after", "value": "2026-01-31T09:00:00Z"},
    {"field": "attributes.industry", "op": "eq", "value": "Fintech"},
    {"field": "attributes.seats", "op": "eq", "value": 5},
    {"field": "attributes.industry", "op": "exists"},
    {"field": "company", "op": "contains", "value": "50%_off"},
    {"field": "title", "op": "eq", "value": "CTO"},
    {"engagement": "opened", "campaign_id": CAMPAIGN},
    {"engagement": "replied", "within_days": 7},
    {"all": [{"field": "tags", "op": "has", "value": "a"}, {"not": {"field": "tags", "op": "has", "value": "b"}}]},
    {"any": [{"field": "title", "op": "eq", "value": "CEO"}, {"engagement": "clicked", "within_days": 30}]},
]  # fmt: skip

# A hostile value in every place a rule takes text.
HOSTILE = "x'); DROP TABLE prospects; --"


@pytest.mark.parametrize("rule", VALID)
def test_valid_rules_compile_and_the_schema_agrees(rule):
    predicate = compile_rule(rule)
    assert len(set(re.findall(r"\$\d+", predicate.sql))) == len(predicate.args)
    jsonschema.validate(
        {"r": rule}, _with_components({"properties": {"r": {"$ref": "#/$defs/AudienceRule"}}})
    )


@pytest.mark.parametrize(
    "rule",
    [
        {"field": "company", "op": "eq", "value": HOSTILE},
        {"field": f"attributes.{HOSTILE}", "op": "contains", "value": HOSTILE},
        {"field": "tags", "op": "has", "value": "x' OR '1'='1"},
        {"field": "email_domain", "op": "eq", "value": HOSTILE},
    ],
)
def test_user_text_is_only_ever_a_parameter(rule):
    predicate = compile_rule(rule)
    assert "drop" not in predicate.sql.lower() and "'1'" not in predicate.sql
    assert any("drop" in str(a).lower() or "'1'" in str(a) for a in predicate.args)


def test_parameters_are_numbered_from_where_the_caller_starts():
    predicate = compile_rule(
        {"all": [{"field": "tags", "op": "has", "value": "a"}, {"field": "status", "op": "eq", "value": "active"}]},
        first=3,
    )  # fmt: skip
    assert "$3" in predicate.sql and "$4" in predicate.sql and "$1" not in predicate.sql
    assert predicate.args == ("a", "active")


def test_tags_and_text_compare_without_case():
    assert compile_rule({"field": "tags", "op": "has", "value": "  VIP  Clients "}).args == ("vip clients",)
    assert "lower(" in compile_rule({"field": "company", "op": "eq", "value": "Acme"}).sql


@pytest.mark.parametrize(
    ("rule", "path"),
    [
        ({"all": [{"field": "tags", "op": "has", "value": "a"}, {"field": "status", "op": "gt", "value": "x"}]},
         "rule.all[1].op"),
        ({"all": [{"field": "colour", "op": "eq", "value": "red"}]}, "rule.all[0].field"),
        ({"any": [{"not": {"field": "status", "op": "eq", "value": "gone"}}]}, "rule.any[0].not.value"),
        ({"field": "status", "op": "in", "value": ["active", "nope"]}, "rule.value[1]"),
        ({"field": "created_at", "op": "before", "value": "last tuesday"}, "rule.value"),
        ({"field": "tags", "op": "has"}, "rule.value"),
        ({"field": "tags", "op": "has", "value": "a;b"}, "rule.value"),
        ({"field": "tags", "op": "has", "value": "a", "extra": 1}, "rule.extra"),
        ({"engagement": "forwarded", "within_days": 3}, "rule.engagement"),
        ({"engagement": "opened"}, "rule"),
        ({"engagement": "opened", "within_days": 0}, "rule.within_days"),
        ({"engagement": "opened", "campaign_id": "not-a-uuid"}, "rule.campaign_id"),
        ({"all": []}, "rule.all"),
        ({"all": [{"field": "tags", "op": "has", "value": "a"}], "any": []}, "rule"),
        ([], "rule"),
        ({}, "rule"),
    ],
)  # fmt: skip
def test_a_bad_rule_names_the_path_of_its_bad_part(rule, path):
    with pytest.raises(RuleError) as caught:
        compile_rule(rule)
    assert caught.value.path == path


def test_depth_and_size_are_bounded():
    deep: dict = {"field": "tags", "op": "has", "value": "a"}
    for _ in range(12):
        deep = {"not": deep}
    with pytest.raises(RuleError, match="nest"):
        compile_rule(deep)
    wide = {"any": [{"field": "tags", "op": "has", "value": str(i)} for i in range(101)]}
    with pytest.raises(RuleError, match="at most"):
        compile_rule(wide)


def test_tags_normalise_and_are_capped():
    assert normalize_tag(" Big  Deal ") == "big deal"
    assert normalize_tags(["A", "a", "b"]) == ["a", "b"]
    with pytest.raises(ValueError, match="at most 50"):
        normalize_tags([str(i) for i in range(51)])
    with pytest.raises(ValueError):
        normalize_tag("")


def _with_components(schema: dict) -> dict:
    text = json.dumps(RULE_JSON_SCHEMA).replace("#/components/schemas/AudienceRule", "#/$defs/AudienceRule")
    return {**schema, "$defs": {"AudienceRule": json.loads(text)}}


@pytest.mark.parametrize(
    "rule",
    [
        {"engagement": {}, "within_days": 1},
        {"engagement": [], "campaign_id": CAMPAIGN},
        {"field": {}, "op": "eq", "value": "x"},
        {"field": "status", "op": {}, "value": "x"},
        {"field": "status", "op": "in", "value": [{}]},
        {"field": "email_domain", "op": "in", "value": [[]]},
        {"field": "tags", "op": "has", "value": {"a": 1}},
        {"field": "attributes.x", "op": "exists", "value": "yes"},
        {"field": "created_at", "op": "after", "value": 10**400},
        {"not": None},
    ],
)
def test_values_of_any_json_type_are_a_rule_error_never_a_crash(rule):
    with pytest.raises(RuleError):
        compile_rule(rule)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
    | st.sampled_from(["all", "any", "not", "field", "op", "value", "tags", "has", "status", "eq", "in",
                       "engagement", "opened", "within_days", "attributes.k", "exists", "company", "contains"]),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["all", "any", "not", "field", "op", "value", "engagement", "campaign_id",
                                       "within_days", "x"]), children, max_size=4),
    max_leaves=25,
)  # fmt: skip


@given(_json)
@settings(max_examples=600, deadline=None)
def test_any_json_either_compiles_or_is_a_rule_error(rule):
    try:
        predicate = compile_rule(rule)
    except RuleError:
        return
    assert len(set(re.findall(r"\$\d+", predicate.sql))) == len(predicate.args)


@pytest.mark.parametrize(
    ("rule", "shape"),
    [
        ({"field": "tags", "op": "has", "value": " VIP  Guest "}, CountedShape("vip guest", None)),
        ({"field": "status", "op": "eq", "value": "active"}, CountedShape("", ("active",))),
        ({"field": "status", "op": "in", "value": ["bounced", "complained"]},
         CountedShape("", ("bounced", "complained"))),
        ({"all": [{"field": "status", "op": "eq", "value": "active"}, {"field": "tags", "op": "has", "value": "a"}]},
         CountedShape("a", ("active",))),
        ({"all": []}, CountedShape("", None)),
        ({"all": [{"field": "tags", "op": "has", "value": "a"}, {"field": "tags", "op": "has", "value": "b"}]}, None),
        ({"any": [{"field": "tags", "op": "has", "value": "a"}]}, None),
        ({"not": {"field": "tags", "op": "has", "value": "a"}}, None),
        ({"field": "company", "op": "eq", "value": "Acme"}, None),
        ({"all": [{"field": "tags", "op": "has", "value": "a"}, {"field": "company", "op": "eq", "value": "x"}]}, None),
    ],
)  # fmt: skip
def test_the_rules_prospect_counts_answer(rule, shape):
    assert counted_shape(rule) == shape
