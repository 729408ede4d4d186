"""``${...}`` templating: names, types, escapes and errors, including property tests."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopline.pipeline._template import TemplateError, lookup, parse_name, render

CONTEXT: dict[str, Any] = {
    "model": {"n": 3, "lr": 0.5, "layers": [8, 16], "opts": {"fast": True, "depth": 2}},
    "files": ["a.csv", "b.csv"],
    "name": "churn",
    "flag": False,
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("python train.py --n ${model.n}", "python train.py --n 3"),
        ("${name}-${model.lr}.pkl", "churn-0.5.pkl"),
        ("data/${files[1]}", "data/b.csv"),
        ("layer ${model.layers[-1]}", "layer 16"),
        ("${ model.n }", 3),
        ("${model.layers}", [8, 16]),
        ("flag=${flag}", "flag=false"),
        (r"echo \${HOME} ${name}", "echo ${HOME} churn"),
        ("no templates here", "no templates here"),
    ],
)
def test_rendering(text: str, expected: Any) -> None:
    assert render(text, CONTEXT, "cmd") == expected


def test_a_whole_value_keeps_its_type_and_nested_fields_render() -> None:
    assert render(["${files}", {"k": "${model.n}"}], CONTEXT, "deps") == [
        ["a.csv", "b.csv"],
        {"k": 3},
    ]


def test_a_mapping_in_cmd_becomes_flags() -> None:
    assert render("train ${model.opts}", CONTEXT, "cmd", flags=True) == "train --fast --depth 2"


def test_undefined_name_says_which_and_where() -> None:
    with pytest.raises(TemplateError, match=r"stage 'train', field 'cmd': \$\{model.x\} is not"):
        render("run ${model.x}", CONTEXT, "stage 'train', field 'cmd'")


def test_a_list_inside_a_string_is_refused() -> None:
    with pytest.raises(TemplateError, match="cannot be written inside a string"):
        render("x ${files}", CONTEXT, "cmd")


@pytest.mark.parametrize("bad", ["", "a.", ".a", "a[", "a[1", "a..b", "1a"])
def test_malformed_names_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_name(bad)


_ident = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
_scalar = st.one_of(
    st.integers(-1000, 1000), st.text(st.characters(blacklist_characters="${}\\"), max_size=10)
)
_plain = st.text(st.characters(blacklist_characters="$\\"), max_size=30)


@given(_plain)
def test_text_without_templates_is_unchanged(text: str) -> None:
    assert render(text, {}, "cmd") == text


@given(st.lists(_ident, min_size=1, max_size=4), _scalar, _plain, _plain)
def test_a_nested_name_renders_its_value_in_place(
    parts: list[str], value: Any, before: str, after: str
) -> None:
    context: Any = value
    for part in reversed(parts):
        context = {part: context}
    name = ".".join(parts)
    assert lookup(context, name) == value
    rendered = render(f"{before}${{{name}}}{after}", context, "cmd")
    assert rendered == (f"{before}{value}{after}" if before or after else value)


@given(st.lists(_scalar, min_size=1, max_size=5), st.data())
def test_indexes_pick_list_elements(values: list[Any], data: st.DataObject) -> None:
    index = data.draw(st.integers(-len(values), len(values) - 1))
    assert lookup({"xs": values}, f"xs[{index}]") == values[index]


@given(_ident, _plain)
def test_escaped_templates_stay_literal(name: str, text: str) -> None:
    assert render(f"{text}\\${{{name}}}", {}, "cmd") == f"{text}${{{name}}}"
