from __future__ import annotations

from pathlib import Path

import pytest

from loopline.core.config import load_settings, write_config_file
from loopline.core.errors import ConfigError, NotFound
from loopline.core.project import ProjectPaths


def _project(tmp_path: Path) -> ProjectPaths:
    paths = ProjectPaths(tmp_path)
    paths.dot_dir.mkdir()
    return paths


def test_defaults_need_no_files(tmp_path: Path) -> None:
    settings = load_settings(_project(tmp_path).root, environ={})
    assert settings.store_url == f"sqlite:///{tmp_path / '.loopline' / 'store.db'}"
    assert settings.link_types == ("reflink", "copy")
    assert settings.default_remote is None
    assert settings.jobs >= 4


def test_layers_override_in_order(tmp_path: Path) -> None:
    paths = _project(tmp_path)
    write_config_file(
        paths.config_file, {"core": {"jobs": 3, "remote": "a"}, "cache": {"type": "copy"}}
    )
    write_config_file(paths.local_config_file, {"core": {"jobs": 5}})
    settings = load_settings(paths.root, environ={})
    assert (settings.jobs, settings.default_remote, settings.link_types) == (5, "a", ("copy",))

    env = {"LOOPLINE_CORE_JOBS": "7", "LOOPLINE_REMOTE": "b"}
    settings = load_settings(paths.root, environ=env)
    assert (settings.jobs, settings.default_remote) == (7, "b")

    settings = load_settings(paths.root, {"core.jobs": 9}, environ=env)
    assert settings.jobs == 9


def test_remote_options_merge_local_credentials(tmp_path: Path) -> None:
    paths = _project(tmp_path)
    write_config_file(
        paths.config_file, {"remote": {"s3": {"url": "s3://b/p", "endpoint_url": "http://x"}}}
    )
    write_config_file(paths.local_config_file, {"remote": {"s3": {"secret": "shh"}}})
    remote = load_settings(paths.root, environ={}).remote("s3")
    assert remote.url == "s3://b/p"
    assert dict(remote.options) == {"endpoint_url": "http://x", "secret": "shh"}


def test_single_remote_is_the_default_and_unknown_names_are_explained(tmp_path: Path) -> None:
    paths = _project(tmp_path)
    write_config_file(paths.config_file, {"remote": {"only": {"url": "/tmp/r"}}})
    settings = load_settings(paths.root, environ={})
    assert settings.remote().name == "only"
    with pytest.raises(NotFound, match=r"'other' is not configured.*only"):
        settings.remote("other")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("core: [1, 2", "not valid YAML"),
        ("- a\n- b\n", "must hold a mapping"),
        ("core: 3\n", "section 'core'"),
        ("cache:\n  type: teleport\n", "unknown link types"),
        ("core:\n  jobs: many\n", "must be a number"),
        ("cache:\n  verify: maybe\n", "true or false"),
        ("remote:\n  r: {endpoint_url: x}\n", "has no url"),
    ],
)
def test_bad_config_files_say_what_is_wrong(tmp_path: Path, content: str, message: str) -> None:
    paths = _project(tmp_path)
    paths.config_file.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_settings(paths.root, environ={})


def test_an_unknown_setting_is_refused_with_the_closest_names(tmp_path: Path) -> None:
    paths = ProjectPaths(tmp_path)
    paths.dot_dir.mkdir()
    with pytest.raises(ConfigError, match=r"unknown setting 'core\.jbos'") as caught:
        load_settings(paths.root, {"core.jbos": "4"}, environ={})
    assert "did you mean core.jobs" in (caught.value.hint or "")
    with pytest.raises(ConfigError) as caught:
        load_settings(paths.root, {"core.nonsense": "1"}, environ={})
    assert "core.jobs" in (caught.value.hint or "") and "cache.verify" in (caught.value.hint or "")
