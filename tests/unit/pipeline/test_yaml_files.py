"""Every YAML file a project holds is read by one loader that refuses repeated keys."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from loopline.core.config import load_settings
from loopline.core.errors import ConfigError, InvalidInput
from loopline.core.yaml_loader import load_yaml
from loopline.data.pointer import parse_pointer
from loopline.pipeline import load_pipeline, repro
from loopline.pipeline._lock import read_lock
from tests.conftest import make_tree

SRC = Path(__file__).resolve().parents[3] / "src" / "loopline"

TWO_TRAINS = """\
stages:
  train:
    cmd: echo a > a.txt
    outs: [a.txt]
  train:
    cmd: echo b > b.txt
    outs: [b.txt]
"""


def test_two_stages_with_one_name_are_refused_naming_file_line_and_key(project: Path) -> None:
    make_tree(project, {"dvc.yaml": TWO_TRAINS})
    with pytest.raises(InvalidInput) as caught:
        load_pipeline(project)
    assert "dvc.yaml, line 5: key 'train' appears twice (first at line 2)" in str(caught.value)
    with pytest.raises(InvalidInput):
        repro(project)
    assert not (project / "dvc.lock").exists() and not (project / "a.txt").exists()


def test_a_file_parsed_before_is_checked_again(project: Path) -> None:
    make_tree(
        project,
        {"dvc.yaml": TWO_TRAINS.replace("  train:\n    cmd: echo b", "  b:\n    cmd: echo b")},
    )
    load_pipeline(project)  # fills the parse cache
    make_tree(project, {"dvc.yaml": TWO_TRAINS})
    with pytest.raises(InvalidInput, match="appears twice"):
        load_pipeline(project)


def test_repeated_keys_in_params_lock_config_and_pointer_files(project: Path) -> None:
    stage = "stages:\n  s:\n    cmd: echo ${lr}\n    params: [lr]\n"
    make_tree(project, {"dvc.yaml": stage, "params.yaml": "lr: 1\nlr: 2\n"})
    with pytest.raises(InvalidInput, match=r"params.yaml, line 2: key 'lr' appears twice"):
        repro(project)

    make_tree(project, {"dvc.lock": "schema: '1.0'\nstages:\n  s: {cmd: a}\n  s: {cmd: b}\n"})
    with pytest.raises(InvalidInput, match=r"dvc.lock, line 4: key 's' appears twice"):
        read_lock(project / "dvc.lock")

    config = project / ".loopline" / "config.yaml"
    config.write_text("core:\n  jobs: 2\n  jobs: 3\n")
    with pytest.raises(ConfigError, match=r"line 3: key 'jobs' appears twice"):
        load_settings(project)

    with pytest.raises(InvalidInput, match=r"pointer file d.ltrack is invalid: line 4: key 'oid'"):
        parse_pointer("d.ltrack", "outs:\n- path: d\n  oid: a\n  oid: b\n  size: 1\n")


def test_json_params_with_a_repeated_key_are_refused(project: Path) -> None:
    stage = "stages:\n  s:\n    cmd: echo hi\n    params: [p.json: [a]]\n"
    make_tree(project, {"dvc.yaml": stage, "p.json": '{"a": 1, "a": 2}'})
    with pytest.raises(InvalidInput, match=r"p.json: key 'a' appears twice"):
        repro(project)


def test_merge_keys_may_still_be_overridden() -> None:
    text = "base: &b {x: 1, y: 2}\nthis: {<<: *b, x: 3}\n"
    assert load_yaml(text, "f.yaml")["this"] == {"x": 3, "y": 2}


def test_only_the_pipeline_file_hints_at_templating(project: Path) -> None:
    make_tree(project, {"dvc.yaml": "stages:\n  s:\n    outs: [${x}, b]\n    cmd: echo\n"})
    with pytest.raises(InvalidInput) as caught:
        load_pipeline(project)
    assert "${...} inside [a, b] lists must be quoted" in str(caught.value)
    make_tree(project, {"dvc.yaml": "stages: [a\n"})  # no ${} in it: no word of templating
    with pytest.raises(InvalidInput) as caught:
        load_pipeline(project)
    assert "${" not in str(caught.value)
    make_tree(project, {"dvc.yaml": "stages:\n  s:\n    cmd: echo ${lr}\n    params: [lr]\n"})
    make_tree(project, {"params.yaml": "lr: [1\n"})
    with pytest.raises(InvalidInput) as caught:
        repro(project)
    assert "params.yaml is not valid YAML" in str(caught.value) and "${" not in str(caught.value)


def test_no_yaml_is_read_around_the_shared_loader() -> None:
    loose = re.compile(r"yaml\.((safe_|full_|unsafe_)?load(_all)?|compose|parse)\b|SafeLoader\b")
    offenders = [
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if path.name != "yaml_loader.py" and loose.search(path.read_text())
    ]
    assert offenders == []


def test_kubernetes_manifests_with_a_repeated_key_are_refused(tmp_path: Path) -> None:
    from loopline.deploy.apply import load_objects

    (tmp_path / "svc.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\n"
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: b\n  name: c\n"
    )
    with pytest.raises(InvalidInput, match=r"svc.yaml, line 9: key 'name' appears twice"):
        load_objects(tmp_path)


LAUGHS = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]\n"
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
)
BILLION_LAUGHS = f"a: &a [{', '.join(['lol'] * 9)}]\n" + LAUGHS


def test_non_utf8_bytes_in_each_yaml_file_are_one_red_line_naming_the_byte(
    project: Path,
) -> None:
    from tests.conftest import run_cli

    stage = "stages:\n  s:\n    cmd: echo ${lr} > o.txt\n    params: [lr]\n    outs: [o.txt]\n"
    files: dict[str, bytes] = {
        "dvc.yaml": b"stages: {}\n# caf\xff\n",
        "params.yaml": b"lr: 1\nname: caf\xe9\n",
        "loopline.lock": b"schema: '2.0'\n\xff\n",
        ".loopline/config.yaml": b"core:\n  jobs: 2 # \xfe\n",
    }
    for name, data in files.items():
        make_tree(project, {"dvc.yaml": stage, "params.yaml": "lr: 1\n"})
        (project / "loopline.lock").unlink(missing_ok=True)
        (project / ".loopline" / "config.yaml").write_text("")
        make_tree(project, {name: data})
        result = run_cli("repro")
        assert result.exit_code == 2, (name, result.output)
        at = next(i for i, byte in enumerate(data) if byte > 0x7F)
        assert f"is not UTF-8 text (byte 0x{data[at]:02x} at offset {at})" in result.stderr
        assert name in result.stderr and "Traceback" not in result.stderr

    make_tree(project, {"d.txt.loopline": b"outs:\n- path: d.txt\xff\n"})
    with pytest.raises(InvalidInput, match=r"d.txt.loopline is not UTF-8 text \(byte 0xff"):
        from loopline.data.pointer import read_pointer

        read_pointer(project, "d.txt.loopline")


def test_non_utf8_kubernetes_manifest_is_refused(tmp_path: Path) -> None:
    from loopline.deploy.apply import load_objects

    (tmp_path / "svc.yaml").write_bytes(b"apiVersion: v1\nkind: Service\n# \x80\n")
    with pytest.raises(InvalidInput, match=r"svc.yaml is not UTF-8 text \(byte 0x80 at offset 31"):
        load_objects(tmp_path)


def test_a_stage_writing_non_utf8_metrics_only_gets_a_warning(project: Path) -> None:
    import json

    from tests.conftest import run_cli

    cmd = "python3 -c \"open('m.yaml','wb').write(bytes([0x61,0x3a,0x20,0xff]))\""
    make_tree(project, {"dvc.yaml": f"stages:\n  s:\n    cmd: {cmd}\n    metrics: [m.yaml]\n"})
    result = run_cli("repro")
    assert result.exit_code == 0, result.output
    assert "warning: stage 's': m.yaml is not UTF-8 text (byte 0xff at offset 3)" in result.stderr
    runs = json.loads(run_cli("runs", "list", "-e", "pipeline", "--json").stdout)
    assert {r["info"]["status"] for r in runs} == {"FINISHED"}


def test_nested_aliases_that_expand_to_a_billion_values_are_refused_at_once(
    project: Path,
) -> None:
    import time

    assert len(BILLION_LAUGHS) < 450
    stage = "stages:\n  s:\n    cmd: echo hi\n    params: [a]\n"
    make_tree(project, {"dvc.yaml": stage, "params.yaml": BILLION_LAUGHS})
    start = time.monotonic()
    with pytest.raises(InvalidInput) as caught:
        repro(project)
    assert time.monotonic() - start < 10
    assert "params.yaml: its aliases (*name) expand to more than 1,000,000 values" in str(
        caught.value
    )
    # a few aliases, as people write them, are fine
    assert load_yaml("base: &b {x: 1}\nc: [*b, *b, *b]\n", "f.yaml")["c"][2] == {"x": 1}


def test_a_tab_is_called_a_tab() -> None:
    with pytest.raises(InvalidInput) as caught:
        load_yaml("train:\n\tlr: 1\n", "params.yaml")
    assert "line 2, column 1: a tab character, which YAML does not allow" in caught.value.message
    assert caught.value.hint == "indent with spaces instead of tabs"


def test_a_params_file_holding_a_number_says_so(project: Path) -> None:
    stage = "stages:\n  s:\n    cmd: echo hi\n    params: [lr]\n"
    make_tree(project, {"dvc.yaml": stage, "params.yaml": "42\n"})
    with pytest.raises(InvalidInput) as caught:
        repro(project)
    assert "params file params.yaml holds a number, not a mapping" in caught.value.message
    assert "int" not in caught.value.message and "list" not in str(caught.value.hint)
