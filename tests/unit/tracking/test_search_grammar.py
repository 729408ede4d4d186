from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopline.core.errors import InvalidInput, LooplineError
from loopline.tracking.search import Comparison, OrderBy, parse_filter, parse_order_by


def test_the_documented_example() -> None:
    assert parse_filter("metrics.acc > 0.8 and params.lr = '0.01' and tags.x LIKE '%y%'") == [
        Comparison("metric", "acc", ">", 0.8),
        Comparison("param", "lr", "=", "0.01"),
        Comparison("tag", "x", "LIKE", "%y%"),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metric.`f1 score` >= 1e-3", Comparison("metric", "f1 score", ">=", 0.001)),
        ('tags."team name" != "ml"', Comparison("tag", "team name", "!=", "ml")),
        (
            "attributes.status IN ('FINISHED', 'FAILED')",
            Comparison("attribute", "status", "IN", ("FINISHED", "FAILED")),
        ),
        ("run_name NOT IN ('a')", Comparison("attribute", "run_name", "NOT IN", ("a",))),
        ("attr.start_time > 100", Comparison("attribute", "start_time", ">", 100.0)),
        ("params.a.b ILIKE 'X%'", Comparison("param", "a.b", "ILIKE", "X%")),
        ("tags.note = 'it\\'s'", Comparison("tag", "note", "=", "it's")),
        ("metrics.loss<=-1.5", Comparison("metric", "loss", "<=", -1.5)),
    ],
)
def test_forms_users_write(text: str, expected: Comparison) -> None:
    assert parse_filter(text) == [expected]


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("metrics.acc > 'high'", "compared with a number"),
        ("params.lr > 0.1", "takes"),
        ("params.lr = 0.1", "compared with a quoted string"),
        ("params.alpha = 1.0", r"got 1\.0 \(write params\.alpha = '1\.0'\)"),
        ("tags.n != 1e3", r"got 1e3 \(write tags\.n != '1e3'\)"),
        ("metrics.acc LIKE '%'", "takes"),
        ("metrics.acc > 1 or metrics.acc < 0", "OR is not supported"),
        ("metrics.acc > 1 and", "ends with AND"),
        ("attributes.colour = 'red'", "unknown attribute"),
        ("params.x IN 'a'", "parenthesised list"),
        ("params.x IN ('a'", "unclosed"),
        ("metrics.acc ~ 1", "unexpected text"),
        ("metrics. > 1", "unexpected text"),
    ],
)
def test_mistakes_are_explained(text: str, complaint: str) -> None:
    with pytest.raises(InvalidInput, match=complaint):
        parse_filter(text)


def test_empty_filter_matches_everything() -> None:
    assert parse_filter("") == [] and parse_filter("   ") == [] and parse_filter(None) == []


def test_order_by() -> None:
    assert parse_order_by(["metrics.acc DESC", "params.lr", "start_time asc"]) == [
        OrderBy("metric", "acc", False),
        OrderBy("param", "lr", True),
        OrderBy("attribute", "start_time", True),
    ]


@pytest.mark.parametrize("clause", ["nosuch DESC", "metrics. DESC", "  "])
def test_order_by_mistakes_name_order_by_and_its_form(clause: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_order_by([clause])
    assert caught.value.message.startswith(f"invalid order_by {clause!r}")
    assert "search filter" not in str(caught.value)
    assert caught.value.hint is not None and "KEY [ASC|DESC]" in caught.value.hint


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_text_parses_or_raises_a_loopline_error(text: str) -> None:
    with contextlib.suppress(LooplineError):
        parse_filter(text)


keys = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
numbers = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9)
strings = st.text(
    st.characters(blacklist_characters="'\\", blacklist_categories=("Cs",)), max_size=12
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(
                st.just("metric"), keys, st.sampled_from([">", ">=", "<", "<=", "=", "!="]), numbers
            ),
            st.tuples(
                st.sampled_from(["param", "tag"]),
                keys,
                st.sampled_from(["=", "!=", "LIKE", "ILIKE"]),
                strings,
            ),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_rendered_filters_parse_back(clauses: list[tuple[str, str, str, object]]) -> None:
    prefix = {"metric": "metrics", "param": "params", "tag": "tags"}
    parts = []
    for entity, key, op, value in clauses:
        rendered = repr(float(value)) if entity == "metric" else f"'{value}'"
        parts.append(f"{prefix[entity]}.{key} {op} {rendered}")
    parsed = parse_filter(" AND ".join(parts))
    assert [(c.entity, c.key, c.op) for c in parsed] == [(e, k, o) for e, k, o, _ in clauses]
    for comparison, (entity, _, _, value) in zip(parsed, clauses, strict=True):
        assert comparison.value == (float(value) if entity == "metric" else value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("clause", "blamed"),
    [
        ("metrics.m descending", "'descending'"),
        ("params.p dsc", "'dsc'"),
        ("start_time dsc", "'dsc'"),
        ("metrics.m DESC extra", "'extra'"),
    ],
)
def test_a_misspelled_direction_is_refused_not_read_as_part_of_the_key(
    clause: str, blamed: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_order_by([clause])
    assert caught.value.message.startswith(f"invalid order_by {clause!r}")
    assert blamed in caught.value.message


def test_a_quoted_key_may_hold_spaces() -> None:
    assert parse_order_by(["metrics.`my acc` desc", 'params."learning rate"']) == [
        OrderBy("metric", "my acc", False),
        OrderBy("param", "learning rate", True),
    ]


def test_the_attribute_list_names_each_attribute_once() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_order_by(["nosuch"])
    assert "Created" not in caught.value.message and "created" in caught.value.message
