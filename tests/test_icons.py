"""The app's icons are Streamlit's built-in Material Symbols, never emoji.

Emoji render as empty boxes where the system has no emoji font (headless Chromium, many servers), while
Material Symbols ship with Streamlit and render offline.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from streamlit.string_util import is_material_icon

ROOT = Path(__file__).resolve().parents[1]
APP_FILES = sorted([ROOT / "app.py", *(ROOT / "app_pages").glob("*.py"), *(ROOT / "ui").glob("*.py")])

# Emoji and pictographs, plus the joiners that build emoji sequences.
EMOJI = re.compile(
    "["
    "\U0001f000-\U0001f2ff"  # mahjong, domino, playing cards, enclosed alphanumerics (flags)
    "\U0001f300-\U0001faff"  # pictographs, emoticons, transport, supplemental symbols
    "\u2600-\u27bf"  # miscellaneous symbols, dingbats
    "\u2b00-\u2bff"  # arrows and symbols (e.g. the star and the large squares)
    "\ufe0f"  # emoji presentation selector
    "\u200d"  # zero-width joiner
    "]"
)
MATERIAL = re.compile(r"^:material/([a-z0-9_]+):$")
ICON_KEYWORDS = {"icon", "page_icon"}


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_app_files_are_found():
    assert ROOT / "app.py" in APP_FILES
    assert any(path.parent.name == "app_pages" for path in APP_FILES)
    assert any(path.parent.name == "ui" for path in APP_FILES)


@pytest.mark.parametrize("path", APP_FILES, ids=_rel)
def test_no_emoji(path: Path):
    found = [
        f"{_rel(path)}:{number}: {match.group()!r} (U+{ord(match.group()):04X})"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        for match in EMOJI.finditer(line)
    ]
    assert not found, "emoji in the app (use ':material/name:' icons instead):\n" + "\n".join(found)


@pytest.mark.parametrize("path", APP_FILES, ids=_rel)
def test_icon_arguments_are_material_symbols(path: Path):
    bad = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if not isinstance(node, ast.Call):
            continue
        for keyword in node.keywords:
            if keyword.arg not in ICON_KEYWORDS:
                continue
            value = keyword.value
            if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
                continue
            match = MATERIAL.match(value.value)
            if match is None or not is_material_icon(match.group(1)):
                bad.append(f"{_rel(path)}:{value.lineno}: {keyword.arg}={value.value!r}")
    assert not bad, "icons must be known ':material/name:' symbols:\n" + "\n".join(bad)


def test_navigation_has_material_icons():
    """The page list and the browser-tab icon in app.py (a guard that the AST check sees them)."""
    tree = ast.parse((ROOT / "app.py").read_text(encoding="utf-8"))
    icons = [
        keyword.value.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for keyword in node.keywords
        if keyword.arg in ICON_KEYWORDS and isinstance(keyword.value, ast.Constant)
    ]
    assert len(icons) >= 2
    assert all(MATERIAL.match(icon) for icon in icons)
