"""The committed schema.graphql is the SDL of the code, and the CI check catches a stale one."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from graph.schema import schema
from linkinsights.cli import app

ROOT = Path(__file__).resolve().parent.parent
SDL = str(schema).rstrip() + "\n"


def test_committed_schema_is_fresh() -> None:
    # When this fails, run `make schema` and commit schema.graphql.
    assert (ROOT / "schema.graphql").read_text() == SDL


def test_export_prints_the_sdl() -> None:
    result = CliRunner().invoke(app, ["export-schema"])
    assert result.exit_code == 0
    assert result.stdout == SDL
    assert "type Query {" in result.stdout


def test_check_passes_for_a_fresh_copy(tmp_path: Path) -> None:
    fresh = tmp_path / "schema.graphql"
    fresh.write_text(SDL)
    result = CliRunner().invoke(app, ["export-schema", "--check", str(fresh)])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output
    assert "stale" not in result.output


def test_check_fails_for_a_modified_copy(tmp_path: Path) -> None:
    stale = tmp_path / "schema.graphql"
    stale.write_text(SDL.replace("type Query {", "type Query {\n  removedField: Int"))
    result = CliRunner().invoke(app, ["export-schema", "--check", str(stale)])
    assert result.exit_code == 1
    assert "stale" in result.output
    assert "make schema" in result.output
    assert "Traceback" not in result.output


def test_check_fails_for_a_missing_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["export-schema", "--check", str(tmp_path / "nope.graphql")])
    assert result.exit_code == 1
    assert "stale" in result.output
