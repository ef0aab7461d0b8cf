"""The README's layout block is the real tree: every path exists, and where a line lists names
after a colon, they are exactly the folder's modules (and subfolders without lines of their own)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PATH_LINE = re.compile(r"^( *)(\S+/|\S+\.py) +(.*)$")
IGNORED = {"__init__", "conftest", "__pycache__", "py"}


def layout_lines() -> list[tuple[Path, str]]:
    """(path, description) per line of the block, continuation lines joined."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("### Layout", 1)[1].split("```\n", 2)[1]
    entries: list[tuple[Path, str]] = []
    parents: list[tuple[int, Path]] = [(-1, ROOT)]
    for line in block.splitlines():
        if line.strip() == "src/jobqueue/":
            parents = [(-1, ROOT), (0, ROOT / "src" / "jobqueue")]
            continue
        match = PATH_LINE.match(line)
        if match is None:  # a description continued from the line above
            path, description = entries[-1]
            entries[-1] = (path, f"{description} {line.strip()}")
            continue
        indent, name, description = len(match[1]), match[2], match[3]
        while parents[-1][0] >= indent:
            parents.pop()
        path = parents[-1][1] / name.rstrip("/")
        entries.append((path, description))
        if name.endswith("/"):
            parents.append((indent, path))
    return entries


def listed_names(description: str) -> tuple[set[str], bool] | None:
    """The names listed after the colon, and whether the list is open (ends with `…`: the
    folder may hold more, e.g. the jobs you add)."""
    if ": " not in description:
        return None
    items = [item.strip() for item in description.rsplit(": ", 1)[1].split(",")]
    is_open = items[-1].startswith("…")
    return {item.split()[0] for item in items if not item.startswith("…")}, is_open


def entries_of(folder: Path, lined: set[Path]) -> set[str]:
    found = {p.stem for p in folder.iterdir() if p.is_file() and p.suffix in {".py", ".lua", ".md"}}
    found |= {p.name for p in folder.iterdir() if p.is_dir() and p not in lined}
    return found - IGNORED


def test_every_path_in_the_layout_exists() -> None:
    missing = [str(path.relative_to(ROOT)) for path, _ in layout_lines() if not path.exists()]
    assert not missing


def test_each_listed_folder_names_exactly_its_modules() -> None:
    entries = layout_lines()
    lined = {path for path, _ in entries}
    for path, description in entries:
        listed = listed_names(description)
        if path.is_dir() and listed is not None:
            names, is_open = listed
            actual = entries_of(path, lined)
            assert names <= actual if is_open else names == actual, path.relative_to(ROOT)


def test_every_package_and_flat_module_has_a_line() -> None:
    package = ROOT / "src" / "jobqueue"
    lined = {path for path, _ in layout_lines()}
    folders = {p for p in package.rglob("*") if p.is_dir() and p.name != "__pycache__"}
    flat = {p for p in package.glob("*.py") if p.stem not in IGNORED}
    assert not (folders | flat) - lined
