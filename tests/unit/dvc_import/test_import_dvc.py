"""Adopting a DVC repository: pointers, lock, cache and remotes converted, DVC's files untouched."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from loopline.core.errors import NotFound
from loopline.core.hashing import hash_bytes
from loopline.data.pointer import read_pointer
from loopline.data.status import status
from loopline.data.workspace import Workspace
from loopline.dvc_import import import_dvc
from loopline.pipeline import read_lock, repro, stage_status
from tests.conftest import make_tree, run_cli
from tests.unit.dvc_import.dvc_repo import DvcRepo
from tests.unit.dvc_import.dvc_repo import md5 as md5_of

PIPELINE = """\
stages:
  prepare:
    cmd: python3 -c "open('clean.csv','w').write(open('raw.csv').read().upper())"
    deps: [raw.csv, code]
    params: [train.lr]
    outs: [clean.csv]
    metrics:
      - m.json: {cache: false}
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DvcRepo:
    """A DVC project as `dvc add` and `dvc repro` leave it: tracked data and one stage."""
    root = tmp_path / "proj"
    make_tree(
        root,
        {
            "data/images/a.bin": b"\x00\x01",
            "data/images/sub/b.bin": b"\x02",
            "notes.txt": "hello\n",
            "raw.csv": "a,b\n",
            "code/step.py": "print(1)\n",
            "clean.csv": "A,B\n",
            "m.json": '{"acc": 1}',
            "params.yaml": "train: {lr: 0.1, n: 2}\n",
            "dvc.yaml": PIPELINE,
        },
    )
    dvc = DvcRepo(root)
    dvc.add("data/images")
    dvc.add("notes.txt")
    dvc.lock(
        {
            "prepare": {
                "cmd": "python3 -c \"open('clean.csv','w').write(open('raw.csv').read().upper())\"",
                "deps": ["code", "raw.csv"],
                "params": {"params.yaml": {"train.lr": 0.1}},
                "outs": ["clean.csv", "m.json"],
                "uncached": ["m.json"],
            }
        }
    )
    monkeypatch.chdir(root)
    return dvc


def test_data_and_stages_are_adopted_so_repro_runs_nothing(repo: DvcRepo) -> None:
    before = repo.snapshot()
    report = import_dvc(repo.root)

    assert {(i.kind, i.name) for i in report.by_status("converted")} == {
        ("data", "data/images.dvc"),
        ("data", "notes.txt.dvc"),
        ("stage", "prepare"),
    }
    assert report.by_status("skipped") == []
    assert repo.snapshot() == before  # DVC's own files are never written
    notes = read_pointer(repo.root, "notes.txt.loopline")
    assert (notes.oid, notes.size) == (hash_bytes(b"hello\n"), 6)
    images = read_pointer(repo.root, "data/images.loopline")
    assert (images.size, images.nfiles) == (3, 2)
    with Workspace(repo.root) as ws:
        manifest = ws.odb.read_manifest(images.oid)
        assert {e.relpath: e.hash for e in manifest.entries} == {
            "a.bin": hash_bytes(b"\x00\x01"),
            "sub/b.bin": hash_bytes(b"\x02"),
        }
        assert stage_status(ws) == []
    lock = read_lock(repo.root / "loopline.lock")["prepare"]
    assert {o.path: o.cache for o in lock.outs} == {"clean.csv": True, "m.json": False}
    assert lock.params == {"params.yaml": {"train.lr": 0.1}}
    assert "up to date" in next(i.detail for i in report.items if i.name == "prepare")

    assert repro(repo.root, record=False).by_action("unchanged") == ["prepare"]
    (repo.root / "clean.csv").unlink()  # the converted run cache restores it: no run needed
    assert repro(repo.root, record=False).by_action("restored") == ["prepare"]
    assert (repo.root / "clean.csv").read_text() == "A,B\n"


def test_running_it_again_changes_nothing(repo: DvcRepo) -> None:
    import_dvc(repo.root)
    files = {p: p.read_bytes() for p in repo.root.rglob("*.loopline") if p.is_file()}
    lock = (repo.root / "loopline.lock").read_bytes()
    again = import_dvc(repo.root)
    assert again.by_status("converted") == [] and again.by_status("skipped") == []
    assert len(again.by_status("unchanged")) == 3
    assert {p: p.read_bytes() for p in files} == files
    assert (repo.root / "loopline.lock").read_bytes() == lock


def test_a_loopline_pointer_with_other_content_is_kept(repo: DvcRepo) -> None:
    (repo.root / ".loopline").mkdir()
    import_dvc(repo.root)
    (repo.root / "notes.txt").write_text("newer, added with loopline\n")
    run_cli("add", "notes.txt", cwd=repo.root)
    kept = (repo.root / "notes.txt.loopline").read_text()
    report = import_dvc(repo.root)
    item = next(i for i in report.items if i.name == "notes.txt.dvc")
    assert item.status == "skipped" and "kept it" in item.detail
    assert (repo.root / "notes.txt.loopline").read_text() == kept


def test_without_the_dvc_cache_unchanged_workspace_files_are_used(repo: DvcRepo) -> None:
    shutil.rmtree(repo.cache)
    (repo.root / "data" / "images" / "sub" / "b.bin").write_bytes(b"edited")
    report = import_dvc(repo.root)

    assert ("data", "notes.txt.dvc") in {(i.kind, i.name) for i in report.by_status("converted")}
    skipped = {i.name: i.detail for i in report.by_status("skipped")}
    assert "differs from what DVC recorded" in skipped["data/images.dvc"]
    assert "dvc pull" in skipped["data/images.dvc"]
    assert not (repo.root / "data" / "images.loopline").exists()
    # clean.csv is in neither place as DVC recorded it? It is in the workspace: converted.
    assert "prepare" in {i.name for i in report.by_status("converted")}


def test_a_damaged_dvc_cache_object_is_never_adopted(repo: DvcRepo) -> None:
    digest = yaml.safe_load((repo.root / "notes.txt.dvc").read_text())["outs"][0]["md5"]
    cached = repo.cache / "files" / "md5" / digest[:2] / digest[2:]
    cached.write_bytes(b"rotten")
    (repo.root / "notes.txt").write_text("edited since\n")
    report = import_dvc(repo.root)
    item = next(i for i in report.items if i.name == "notes.txt.dvc")
    assert item.status == "skipped" and "does not match the md5" in item.detail
    assert not (repo.root / "notes.txt.loopline").exists()
    with Workspace(repo.root) as ws:
        assert not ws.odb.exists(hash_bytes(b"rotten"))


def test_an_edited_dep_is_converted_but_reported_stale(repo: DvcRepo) -> None:
    (repo.root / "params.yaml").write_text("train: {lr: 0.5, n: 2}\n")
    report = import_dvc(repo.root)
    detail = next(i.detail for i in report.items if i.name == "prepare")
    assert "will run on the next repro" in detail and "train.lr" in detail


def test_dvc2_legacy_hashes_and_crlf_text(tmp_path: Path) -> None:
    root = tmp_path / "old"
    dvc = DvcRepo(root)
    make_tree(root, {"t.txt": b"a\r\nb\r\n"})
    digest = dvc.cache_object(b"a\nb\n", legacy=True)
    (dvc.cache / digest[:2] / digest[2:]).write_bytes(b"a\r\nb\r\n")  # DVC 2 stores the bytes
    (root / "t.txt.dvc").write_text(f"outs:\n- md5: {digest}\n  size: 6\n  path: t.txt\n")
    report = import_dvc(root)
    assert [i.name for i in report.by_status("converted")] == ["t.txt.dvc"]
    assert read_pointer(root, "t.txt.loopline").oid == hash_bytes(b"a\r\nb\r\n")


def test_remotes_become_loopline_remotes(repo: DvcRepo) -> None:
    (repo.root / ".dvc" / "config").write_text(
        "[core]\n    remote = store\n"
        "['remote \"store\"']\n    url = ../../shared-store\n"
        "['remote \"s3\"']\n    url = s3://bucket/path\n    endpointurl = http://127.0.0.1:9\n"
        "    version_aware = true\n"
    )
    (repo.root / ".dvc" / "config.local").write_text(
        "['remote \"s3\"']\n    access_key_id = AKIA\n    secret_access_key = shh\n"
    )
    report = import_dvc(repo.root)
    shared = yaml.safe_load((repo.root / ".loopline" / "config.yaml").read_text())
    local = yaml.safe_load((repo.root / ".loopline" / "config.local.yaml").read_text())
    assert shared["core"] == {"remote": "store"}
    assert shared["remote"] == {
        "store": {"url": "../../shared-store"},  # relative, as DVC had it
        "s3": {"url": "s3://bucket/path", "endpoint_url": "http://127.0.0.1:9"},
    }
    assert local["remote"] == {"s3": {"access_key_id": "AKIA", "secret_access_key": "shh"}}
    with Workspace(repo.root) as ws:  # the folder DVC used: .loopline/ sits where .dvc/ does
        dvc_folder = (repo.root / ".dvc" / "../../shared-store").resolve()
        assert Path(ws.settings.remote("store").url).resolve() == dvc_folder
    s3 = next(i for i in report.items if i.name == "s3")
    assert s3.status == "converted" and "version_aware" in s3.detail


def test_imports_and_uncached_outs_are_skipped_with_reasons(repo: DvcRepo) -> None:
    (repo.root / "ext.csv.dvc").write_text(
        "deps:\n- path: https://example.invalid/ext.csv\nouts:\n- md5: "
        + "0" * 32
        + "\n  path: ext.csv\n"
    )
    (repo.root / "small.txt").write_text("s")
    (repo.root / "small.txt.dvc").write_text("outs:\n- path: small.txt\n  cache: false\n")
    skipped = {i.name: i.detail for i in import_dvc(repo.root).by_status("skipped")}
    assert "dvc import" in skipped["ext.csv.dvc"]
    assert "cache: false" in skipped["small.txt.dvc"]


def test_cli_report_and_errors(repo: DvcRepo, tmp_path: Path) -> None:
    done = run_cli("import-dvc", "--json", cwd=repo.root)
    assert done.exit_code == 0, done.output
    assert len(json.loads(done.stdout)["converted"]) == 3
    text = run_cli("import-dvc", cwd=repo.root)
    assert "0 converted, 3 already converted, 0 skipped." in text.stdout
    plain = tmp_path / "plain"
    plain.mkdir()
    missing = run_cli("import-dvc", str(plain))
    assert missing.exit_code == 3 and "not a DVC repository" in missing.stderr
    assert not (plain / ".loopline").exists()
    with pytest.raises(NotFound):
        import_dvc(plain)


@pytest.mark.skipif(shutil.which("dvc") is None, reason="the dvc CLI is not installed")
def test_a_repository_made_by_the_real_dvc_cli(tmp_path: Path) -> None:
    root = tmp_path / "real"
    make_tree(root, {"data/x.csv": "a,b\n1,2\n", "data/y.txt": "hello", "f.txt": "single\n"})
    (root / "dvc.yaml").write_text(
        "stages:\n  up:\n    cmd: python3 -c \"open('u.txt','w').write(open('f.txt').read()"
        '.upper())"\n    deps: [f.txt]\n    outs: [u.txt]\n'
    )

    def dvc(*args: str) -> None:
        subprocess.run(["dvc", *args], cwd=root, check=True, capture_output=True)

    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    dvc("init", "-q")
    dvc("add", "-q", "data", "f.txt")
    dvc("repro", "-q")
    before = DvcRepo(root).snapshot()
    report = import_dvc(root)
    assert len(report.by_status("converted")) == 3 and report.by_status("skipped") == []
    assert DvcRepo(root).snapshot() == before
    assert repro(root, record=False).by_action("unchanged") == ["up"]


def test_workspace_links_out_of_the_project_are_never_read(repo: DvcRepo, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("outside\n")
    (repo.root / "leak.txt").symlink_to(secret)
    (repo.root / "leak.txt.dvc").write_text(
        f"outs:\n- md5: {md5_of(b'outside' + bytes([10]))}\n  size: 8\n  hash: md5\n"
        "  path: leak.txt\n"
    )
    item = next(i for i in import_dvc(repo.root).items if i.name == "leak.txt.dvc")
    assert item.status == "skipped"
    assert not (repo.root / "leak.txt.loopline").exists()
    with Workspace(repo.root) as ws:
        assert not ws.odb.exists(hash_bytes(b"outside\n"))


def test_running_it_again_reads_no_data_already_converted(repo: DvcRepo) -> None:
    import_dvc(repo.root)
    digest = yaml.safe_load((repo.root / "notes.txt.dvc").read_text())["outs"][0]["md5"]
    (repo.cache / "files" / "md5" / digest[:2] / digest[2:]).write_bytes(b"rotten")
    (repo.root / "notes.txt.loopline").unlink()
    report = import_dvc(repo.root)  # the remembered, verified conversion is reused
    assert ("data", "notes.txt.dvc") in {(i.kind, i.name) for i in report.by_status("converted")}
    assert read_pointer(repo.root, "notes.txt.loopline").oid == hash_bytes(b"hello\n")


def test_executable_files_in_folders_keep_their_bit(tmp_path: Path) -> None:
    root = tmp_path / "x"
    make_tree(root, {"tools/run.sh": "#!/bin/sh\n", "tools/readme": "r"})
    (root / "tools" / "run.sh").chmod(0o755)
    dvc = DvcRepo(root)
    dvc.add("tools")  # DVC's listing has no executable bit
    import_dvc(root)
    with Workspace(root) as ws:
        assert status(ws) == []
        manifest = ws.odb.read_manifest(read_pointer(root, "tools.loopline").oid)
        assert {e.relpath: e.isexec for e in manifest.entries} == {"readme": False, "run.sh": True}


def test_paths_outside_the_project_are_never_written(repo: DvcRepo, tmp_path: Path) -> None:
    lock = yaml.safe_load((repo.root / "dvc.lock").read_text())
    lock["stages"]["prepare"]["outs"][0]["path"] = "../escape.csv"
    (repo.root / "dvc.lock").write_text(yaml.safe_dump(lock))
    outside = tmp_path / "elsewhere"
    make_tree(outside, {"f.txt": "hello\n"})
    (repo.root / "linked").symlink_to(outside)  # a .dvc file behind a link out: not followed
    (repo.root / "linked" / "f.txt.dvc").write_text(
        (repo.root / "notes.txt.dvc").read_text().replace("notes.txt", "f.txt")
    )
    report = import_dvc(repo.root)
    skipped = {i.name: i.detail for i in report.by_status("skipped")}
    assert "outside the project" in skipped["prepare"]
    assert not (repo.root / "loopline.lock").exists()
    assert not (outside / "f.txt.loopline").exists() and not (outside / ".gitignore").exists()
