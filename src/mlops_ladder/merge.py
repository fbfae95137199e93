"""One three-way merge, git's own, for `upgrade` (a project) and `propagate` (the templates)."""

import subprocess
import tempfile
from pathlib import Path


def three_way(
    ours: bytes, base: bytes, theirs: bytes, labels: tuple[str, str, str]
) -> tuple[bytes, bool] | None:
    """`git merge-file` of theirs into ours: the merged bytes and whether it is clean.

    Conflicts get ordinary markers named by `labels` (ours, base, theirs); None means git could
    not merge at all (a binary file).
    """
    with tempfile.TemporaryDirectory() as workdir:
        files = [Path(workdir) / name for name in ("ours", "base", "theirs")]
        for file, content in zip(files, (ours, base, theirs), strict=True):
            file.write_bytes(content)
        merged = subprocess.run(
            ["git", "merge-file", "-p", *(arg for label in labels for arg in ("-L", label))]
            + [str(file) for file in files],
            capture_output=True,
        )
    if merged.returncode < 0 or merged.returncode > 127:
        return None
    return merged.stdout, merged.returncode == 0


def conflicts(merged: bytes) -> list[str]:
    """The conflicting hunks of a merge, each from its <<<<<<< line to its >>>>>>> line."""
    hunks: list[str] = []
    hunk: list[str] | None = None
    for line in merged.decode(errors="replace").splitlines(keepends=True):
        if line.startswith("<<<<<<< "):
            hunk = []
        if hunk is not None:
            hunk.append(line)
            if line.startswith(">>>>>>> "):
                hunks.append("".join(hunk))
                hunk = None
    return hunks
