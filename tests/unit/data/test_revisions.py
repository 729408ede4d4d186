"""Which revisions a history flag covers, and what their pointer files and lock reference."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopline.core.errors import InvalidInput
from loopline.core.hashing import hash_bytes
from loopline.data.revisions import RevisionScope, pointers_in_revisions, scope_revisions
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
