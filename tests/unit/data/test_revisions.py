"""Which revisions a history flag covers, and what their pointer files and lock reference."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopline.core.errors import InvalidInput
from loopline.core.hashing import hash_bytes
from loopline.data.revisions import (
    RevisionScope,
    pointers_in_revisions,
    pointers_in_scope,
    scope_revisions,
)
from tests.conftest import git, make_tree


def _pointer(oid: str, name: str) -> str:
    return f"outs:\n- path: {name}\n  hash: blake3\n  oid: {oid}\n  size: 2\n"


def test_scopes_name_branch_tips_peeled_tags_or_every_commit(project: Path) -> None:
    make_tree(project, {"f.txt": "1"})
    git(project, "add", "-A")
    git(project, "commit", "-qm", "one")
    first = git(project, "rev-parse", "HEAD").strip()
    git(project, "tag", "-a", "v1", "-m", "annotated")
    make_tree(project, {"f.txt": "2"})
    git(project, "commit", "-qam", "two")
    head = git(project, "rev-parse", "HEAD").strip()

    assert scope_revisions(project, RevisionScope()) == []
    assert scope_revisions(project, RevisionScope(all_branches=True)) == [head]
    assert set(scope_revisions(project, RevisionScope(all_tags=True))) == {first, head}
    assert set(scope_revisions(project, RevisionScope(all_commits=True))) == {first, head}


def test_one_blob_at_two_paths_gives_a_pointer_for_each(project: Path) -> None:
    oid = hash_bytes(b"ab")
    make_tree(
        project, {"a/raw.loopline": _pointer(oid, "raw"), "b/raw.loopline": _pointer(oid, "raw")}
    )
    make_tree(project, {"bad.loopline": "outs: nonsense\n"})  # an old broken pointer: ignored
    git(project, "add", "-A")
    git(project, "commit", "-qm", "two copies")
    commits = scope_revisions(project, RevisionScope(all_commits=True))
    found = pointers_in_revisions(project, commits)
    assert sorted(p.path for p in found) == ["a/raw", "b/raw"]
    assert {p.oid for p in found} == {oid}


def test_outside_git_the_flags_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="not a git repository"):
        scope_revisions(tmp_path, RevisionScope(all_commits=True))


def test_the_history_walk_finds_what_every_commit_tree_holds(project: Path) -> None:
    """Including a pointer only a merge commit's own resolution introduced, and a subfolder."""

    def commit(files: dict[str, bytes | str], message: str) -> None:
        make_tree(project, files)
        git(project, "add", "-A")
        git(project, "commit", "-qm", message)

    oid = [hash_bytes(str(i).encode()) for i in range(6)]
    commit({"d.loopline": _pointer(oid[0], "d")}, "base")
    git(project, "checkout", "-qb", "side")
    commit({"sub/e.loopline": _pointer(oid[1], "e")}, "side")
    git(project, "checkout", "-q", "main")
    commit({"d.loopline": _pointer(oid[2], "d")}, "main")
    git(project, "merge", "-q", "--no-commit", "side")
    make_tree(project, {"d.loopline": _pointer(oid[3], "d")})  # only the merge holds oid[3]
    git(project, "add", "-A")
    git(project, "commit", "-qm", "merge")
    commit({"d.loopline": _pointer(oid[4], "d")}, "after")
    (project / "d.loopline").unlink()
    commit({}, "deleted")

    walked, count = pointers_in_scope(project, RevisionScope(all_commits=True))
    commits = scope_revisions(project, RevisionScope(all_commits=True))
    listed = pointers_in_revisions(project, commits)
    assert count == len(commits) == 6
    assert {(p.path, p.oid) for p in walked} == {(p.path, p.oid) for p in listed}
    assert {p.oid for p in walked} == set(oid[:5])
