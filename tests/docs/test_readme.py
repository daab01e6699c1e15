"""The README's configuration reference is generated from the settings classes and must match them."""

from __future__ import annotations

from pathlib import Path

from token_service.settings_reference import END, START, render_reference

README = Path(__file__).resolve().parents[2] / "README.md"


def test_configuration_reference_matches_the_settings_classes() -> None:
    text = README.read_text()
    assert START in text and END in text
    current = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert current == render_reference().strip(), (
        "README configuration reference is out of date: run "
        "`uv run python -m token_service.settings_reference --write README.md`"
    )
