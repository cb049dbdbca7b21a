"""The start-up reads each revision file's identifiers from its header; odd files still read whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.store import migrate


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rev.py"
    path.write_text(text, encoding="utf-8")
    return path


def test_identifiers_of_alembics_template(tmp_path: Path) -> None:
    path = write(tmp_path, '"""Add x."""\nfrom collections.abc import Sequence\n\nrevision: str = "0009"\n'
                           'down_revision: str | Sequence[str] | None = ("0007", "0008")\n\n'
                           'def upgrade() -> None:\n    pass\n')
    assert migrate._identifiers(path) == {"revision": "0009", "down_revision": ("0007", "0008")}


def test_identifiers_after_a_function_are_found(tmp_path: Path) -> None:
    path = write(tmp_path, 'revision = "0002"\n\ndef helper():\n    pass\n\ndown_revision = "0001"\n')
    assert migrate._identifiers(path) == {"revision": "0002", "down_revision": "0001"}


def test_a_def_inside_the_docstring_does_not_cut_the_header(tmp_path: Path) -> None:
    path = write(tmp_path, '"""Adds a column.\ndef is a word here.\n"""\nrevision = "0003"\n'
                           'down_revision = None\n\ndef upgrade():\n    pass\n')
    assert migrate._identifiers(path) == {"revision": "0003", "down_revision": None}


def test_the_shipped_heads_come_from_the_headers() -> None:
    graph = migrate.revision_graph()
    assert set(migrate.head_revisions()) <= set(graph)
    for path in sorted((migrate.MIGRATIONS_DIR / "versions").glob("0*.py")):
        found = migrate._identifiers(path)
        assert graph[found["revision"]] == ((found["down_revision"],) if found["down_revision"] else ())


def test_a_revision_that_is_not_a_literal_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        migrate._identifiers(write(tmp_path, 'revision = make()\ndown_revision = None\n'))
