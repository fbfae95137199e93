"""Refresh the page that `dvc plots show` writes in levels 2+, with Vega inlined, from npm.

python tools/vendor.py                       fetch the pinned versions again and rewrite the page
python tools/vendor.py vega-lite@5.24.0      move one package to another version

DVC's own page loads vega, vega-lite and vega-embed from a CDN, so its plots are blank
offline. Each level's `.dvc/config` points `plots.html_template` at `.dvc/plots/offline.html`,
a page that holds the three libraries' minified builds, unmodified, with their license notice.
The page's head comment names the versions: it is where the pins live. `npm pack` fetches the
packages (npm checks their integrity) and the same page is written into every level with DVC.
"""

import argparse
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "templates"
PAGE = Path("{{cookiecutter.project_slug}}") / ".dvc" / "plots" / "offline.html"
# The three packages in the order the page loads them (vega-lite and vega-embed need vega),
# each with the build that defines its browser global (vega, vegaLite, vegaEmbed).
PACKAGES = {
    "vega": "build/vega.min.js",
    "vega-lite": "build/vega-lite.min.js",
    "vega-embed": "build/vega-embed.min.js",
}
PINS = re.compile(r"^(vega|vega-lite|vega-embed) (\S+) ", re.MULTILINE)
# What must not occur in an inlined script: it would end the <script> element early, or be
# replaced by DVC, which fills these placeholders anywhere in the page.
FORBIDDEN = ("</script", "<!--", "{plot_divs}", "{scripts}", "{refresh_tag}")

HEAD = """<!DOCTYPE html>
<!--
The page that `dvc plots show` writes (.dvc/config: plots.html_template), with the Vega
libraries inlined instead of loaded from a CDN, so that the plots draw offline.
Made by mlops-ladder's `nox -s vendor` from these npm packages, their builds unmodified:
{packages}
Each of them is under the BSD-3-Clause license ({license_from}'s text below); their builds bundle
their own npm dependencies (d3 modules among them, under the ISC license).

{license}-->
<html lang="en">
<head>
<meta charset="utf-8">
{{refresh_tag}}
<title>DVC Plot</title>
"""
TAIL = """<style>
table {{ border-spacing: 15px; }}
</style>
</head>
<body>
{{plot_divs}}
</body>
</html>
"""


def levels_with_dvc(templates: Path = TEMPLATES) -> list[Path]:
    """The page's path in every level that has a DVC config."""
    return [
        level / PAGE
        for level in sorted(templates.glob("level[0-9]"))
        if (level / PAGE.parent.parent / "config").is_file()
    ]


def pinned(page: Path) -> dict[str, str]:
    """The versions that a page holds, from its head comment."""
    found = dict(PINS.findall(page.read_text(encoding="utf-8"))) if page.is_file() else {}
    return {name: found[name] for name in PACKAGES if name in found}


def fetch(pins: dict[str, str], folder: Path) -> dict[str, dict[str, str]]:
    """`npm pack` each package into `folder`: its build, license text and integrity."""
    specs = [f"{name}@{pins[name]}" for name in PACKAGES]
    done = subprocess.run(
        ["npm", "pack", "--json", "--pack-destination", str(folder), *specs],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"npm pack {' '.join(specs)} failed:\n{done.stderr}")
    fetched: dict[str, dict[str, str]] = {}
    for entry in json.loads(done.stdout):
        with tarfile.open(folder / entry["filename"]) as archive:
            files = {
                member.name.removeprefix("package/"): _read(archive, member)
                for member in archive.getmembers()
                if member.isfile()
            }
        fetched[entry["name"]] = {
            "version": entry["version"],
            "integrity": entry["integrity"],
            "build": files[PACKAGES[entry["name"]]],
            "license": files.get("LICENSE", ""),
        }
    return fetched


def _read(archive: tarfile.TarFile, member: tarfile.TarInfo) -> str:
    extracted = archive.extractfile(member)
    assert extracted is not None, member.name  # a regular file
    return extracted.read().decode()


def page(fetched: dict[str, dict[str, str]]) -> str:
    """The HTML template: head comment with versions and license, the three scripts, DVC's
    placeholders for the plots."""
    license_from = next(name for name in PACKAGES if fetched[name]["license"])
    lines = [
        f"{name} {fetched[name]['version']} (npm integrity {fetched[name]['integrity']})"
        for name in PACKAGES
    ]
    head = HEAD.format(
        packages="\n".join(lines),
        license_from=license_from,
        license=fetched[license_from]["license"].strip() + "\n",
    )
    scripts = []
    for name in PACKAGES:
        build = fetched[name]["build"].strip()
        if found := [text for text in FORBIDDEN if text in build]:
            raise SystemExit(f"{name}'s build contains {found}: it cannot be inlined as is")
        scripts.append(f"<script>\n{build}\n</script>\n")
    return head + "".join(scripts) + TAIL.format()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "versions", nargs="*", metavar="NAME@VERSION", help="another version of a package"
    )
    args = parser.parse_args(argv)
    pages = levels_with_dvc()
    pins = pinned(pages[0])
    for spec in args.versions:
        name, _, version = spec.partition("@")
        if name not in PACKAGES or not version:
            parser.error(f"{spec}: name one of {', '.join(PACKAGES)} as NAME@VERSION")
        pins[name] = version
    if missing := [name for name in PACKAGES if name not in pins]:
        parser.error(f"{pages[0]} names no version of {', '.join(missing)}: give NAME@VERSION")
    with tempfile.TemporaryDirectory() as folder:
        text = page(fetch(pins, Path(folder)))
    for path in pages:
        before = path.read_text(encoding="utf-8") if path.is_file() else None
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        state = "created" if before is None else "unchanged" if before == text else "updated"
        print(f"{state:9s} {path.relative_to(ROOT)} ({len(text.encode()) // 1024} KiB)")
    print(", ".join(f"{name} {version}" for name, version in pins.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
