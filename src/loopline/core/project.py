"""Where a Loopline project lives on disk: its root and the fixed layout of ``.loopline/``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from loopline.core.errors import InvalidInput, NotFound

__all__ = [
    "DOT_DIR",
    "ProjectPaths",
    "check_dot_dir",
    "find_project_root",
    "relative_to_project",
]

DOT_DIR = ".loopline"


@dataclass(frozen=True)
class ProjectPaths:
    """The layout of a project; nothing here touches the disk."""

    root: Path

    @property
    def dot_dir(self) -> Path:
        return self.root / DOT_DIR

    @property
    def config_file(self) -> Path:
        return self.dot_dir / "config.yaml"

    @property
    def local_config_file(self) -> Path:
        return self.dot_dir / "config.local.yaml"

    @property
    def objects_dir(self) -> Path:
        return self.dot_dir / "objects"

    @property
    def tmp_dir(self) -> Path:
        return self.dot_dir / "tmp"

    @property
    def state_db(self) -> Path:
        return self.tmp_dir / "state.db"

    @property
    def lock_file(self) -> Path:
        return self.tmp_dir / "lock"

    @property
    def store_db(self) -> Path:
        return self.dot_dir / "store.db"


def find_project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` that holds ``.loopline/config.yaml`` (what
    ``loopline init`` always writes): a bare ``.loopline`` folder, such as one a tool keeps in
    a home folder, is no project. A ``.loopline`` that is a link leading out of its folder is
    refused: the store and artifacts would be written wherever it points."""
    here = Path(os.path.abspath(start or Path.cwd()))
    for folder in (here, *here.parents):
        if ProjectPaths(folder).config_file.is_file():
            check_dot_dir(folder)
            return folder
    raise NotFound(
        f"no Loopline project at or above {here}",
        hint="run `loopline init` in the project's root folder first",
    )


def check_dot_dir(root: Path) -> None:
    """Refuse a ``.loopline`` under ``root`` that is a link leading outside ``root``."""
    dot = ProjectPaths(root).dot_dir
    if not dot.is_symlink():
        return
    target = Path(os.path.realpath(dot))
    if not target.is_relative_to(Path(os.path.realpath(root))):
        raise InvalidInput(
            f"{dot} is a link to {target}, outside the project folder {root}: Loopline "
            "will not write its store and artifacts there",
            hint=f"remove the link and run `loopline init` in {root}",
        )


def relative_to_project(root: Path, path: Path | str) -> str:
    """``path`` as a POSIX path relative to ``root``; refuses paths outside the project."""
    absolute = Path(os.path.abspath(Path.cwd() / path))
    try:
        relative = absolute.relative_to(root)
    except ValueError:
        raise InvalidInput(
            f"{path} is outside the project at {root}",
            hint="move the data into the project folder, "
            "or run Loopline from the project it belongs to",
        ) from None
    if relative.parts and relative.parts[0] == DOT_DIR:
        raise InvalidInput(
            f"{path} is inside Loopline's own folder {DOT_DIR}/",
            hint="track your data files, not Loopline's internal files",
        )
    if not relative.parts:
        raise InvalidInput(
            f"{path} is the project root itself",
            hint="track a file or a folder inside the project",
        )
    return relative.as_posix()
