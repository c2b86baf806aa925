"""benchmarks/RESULTS.md is shared: each benchmark replaces only its own '## ' section."""

from __future__ import annotations

from pathlib import Path

from lerobot_notebook_pipeline.files import write_atomic

HEADER = "# Benchmark results\n\nEach section is written by one script in `benchmarks/`; the command that produced it is in the section.\n"


def write_results_section(path: str | Path, heading: str, body: str) -> Path:
    """Put '## heading' + body into the markdown file at path, replacing that section only (others kept)."""
    path = Path(path)
    text = path.read_text() if path.is_file() else HEADER
    title = f"## {heading}"
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == title), None)
    section = [title, "", *body.strip("\n").splitlines(), ""]
    if start is None:
        lines = [*lines, *([""] if lines and lines[-1].strip() else []), *section]
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        lines = [*lines[:start], *section, *lines[end:]]
    return write_atomic(path, "\n".join(lines).rstrip("\n") + "\n")
