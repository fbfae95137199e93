"""Read the workshop's lessons (docs/levelN.md): their parts, links and runnable commands.

tests/test_docs.py checks the parts, the links and that no explanation is copied between a
lesson and a README; tests/e2e/test_lessons.py runs every runnable command as a learner would.
"""

import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mlops_ladder import ladder

ROOT = ladder.ROOT
DOCS = ROOT / "docs"
LESSONS = {level: DOCS / f"level{level}.md" for level in ladder.levels()}
LINKED = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted(DOCS.glob("*.md"))]

FENCE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
HEADING = re.compile(r"^(?P<marks>#{1,6}) +(?P<title>.+?) *#*$")
LINK = re.compile(r"!?\[[^\]]*\]\((?P<target><[^>]*>|[^)\s]+)(?: +\"[^\"]*\")?\)")
HTML_LINK = re.compile(r"<(?:a|img)\b[^>]*?\b(?:href|src)=\"(?P<target>[^\"]+)\"")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
TAGS = {"runnable", "fails"}  # what may follow `console` in a block's info string
ANY_OUTPUT = "..."  # an expected-output line that stands for anything
MIN_SHARED_WORDS = 12  # a sentence this long, in a lesson and in a README, is a copy


@dataclass(frozen=True)
class Block:
    """A fenced block of a Markdown file."""

    info: str
    text: str
    line: int  # of the opening fence, 1-based
    in_details: bool  # inside <details> ... </details>, such as an exercise's solution

    @property
    def runnable(self) -> bool:
        """```console runnable``` (or ```console runnable fails```): the docs test runs it."""
        words = self.info.split()
        if words[:1] == ["console"] and not set(words[1:]) <= TAGS:
            raise ValueError(f"line {self.line}: ```{self.info}```: tags are {sorted(TAGS)}")
        return words[:1] == ["console"] and "runnable" in words[1:]

    @property
    def must_fail(self) -> bool:
        return self.runnable and "fails" in self.info.split()[1:]


@dataclass(frozen=True)
class Step:
    """One command of a runnable block, with the output it must print (in order)."""

    command: str
    expected: tuple[str, ...]
    must_fail: bool
    where: str  # file:line, for messages


@dataclass
class Document:
    """A Markdown file split into headings, fenced blocks and the prose around them."""

    path: Path
    headings: list[tuple[int, str, int]] = field(default_factory=list)  # level, title, line
    blocks: list[Block] = field(default_factory=list)
    prose: list[tuple[int, str]] = field(default_factory=list)  # line number, text


def parse(path: Path) -> Document:
    """Headings, fenced blocks (and whether each sits in a <details>) and prose of a file."""
    document = Document(path)
    lines = path.read_text().splitlines()
    number, details = 0, 0
    while number < len(lines):
        line = lines[number]
        opening = FENCE.match(line)
        if opening:
            fence, body = opening["fence"], []
            start = number
            number += 1
            while number < len(lines) and lines[number].strip() != fence:
                body.append(lines[number])
                number += 1
            info = opening["info"].strip()
            document.blocks.append(Block(info, "\n".join(body), start + 1, details > 0))
        else:
            heading = HEADING.match(line)
            if heading:
                document.headings.append((len(heading["marks"]), heading["title"], number + 1))
            details += line.count("<details") - line.count("</details>")
            document.prose.append((number + 1, line))
        number += 1
    return document


def steps(block: Block, where: str) -> list[Step]:
    """The commands of a runnable block: lines after `$ ` (a trailing backslash continues a
    command on the next line); the lines up to the next `$ ` are its expected output."""
    found: list[tuple[list[str], list[str]]] = []
    continued = False
    for line in block.text.splitlines():
        if continued:
            found[-1][0].append(line)
        elif line.startswith("$ "):
            found.append(([line[2:]], []))
        elif found:
            found[-1][1].append(line)
        elif line.strip():
            raise ValueError(f"{where}: output before the first `$ ` command: {line!r}")
        continued = bool(found) and not found[-1][1] and line.endswith("\\")
    if not found:
        raise ValueError(f"{where}: a runnable block without a `$ ` command")
    return [
        Step("\n".join(command), tuple(line for line in expected if line.strip()),
             block.must_fail, where)
        for command, expected in found
    ]  # fmt: skip


def runnable_steps(path: Path) -> list[Step]:
    """Every command of a file's runnable blocks, in order."""
    name = f"{path.parent.name}/{path.name}"
    return [
        step
        for block in parse(path).blocks
        if block.runnable
        for step in steps(block, f"{name}:{block.line}")
    ]


def _normal(line: str) -> str:
    return " ".join(ANSI.sub("", line).split())


# The digits a lesson shows: uv.lock makes them the same on every machine, while the last digits
# of a float can differ with the CPU. A number that a lesson shows with d decimals (at most
# MAX_DECIMALS) matches a printed number within one unit of its last decimal, printed with as many
# decimals or more: `4.6902` matches `4.6902`, `4.6901`, `4.69019` and `4.690191`.
MAX_DECIMALS = 4
DECIMAL = re.compile(r"-?\d+\.\d+")


def too_precise(line: str) -> list[str]:
    """The numbers of an expected-output line that show more than MAX_DECIMALS decimals."""
    return [n for n in DECIMAL.findall(line) if len(n.split(".")[1]) > MAX_DECIMALS]


def shows(printed: str, want: str) -> bool:
    """Whether a printed line holds the expected text, its decimal numbers read as above."""
    numbers = DECIMAL.findall(want)
    if not numbers:
        return want in printed
    parts = DECIMAL.split(want)
    pattern = re.escape(parts[0]) + "".join(
        f"(-?\\d+\\.\\d{{{len(n.split('.')[1])},}})" + re.escape(after)
        for n, after in zip(numbers, parts[1:], strict=True)
    )
    for match in re.finditer(f"(?=({pattern}))", printed):
        found = match.groups()[1:]
        if all(
            abs(float(got) - float(n)) <= 1.000001 * 10 ** -len(n.split(".")[1])
            for got, n in zip(found, numbers, strict=True)
        ):
            return True
    return False


def unmatched(expected: tuple[str, ...], output: str) -> str | None:
    """The first expected line that is not found as part of a line of `output`; None when all
    are. Expected lines match in order, and lines shown one after the other must be printed one
    after the other: only a `...` line stands for output left out (as does the start of the
    output, before the first expected line). Blank lines and whitespace runs do not count, and
    decimal numbers match as MAX_DECIMALS says."""
    printed = [line for line in map(_normal, output.splitlines()) if line]  # blanks skipped
    position, gap = 0, True
    for want in map(_normal, expected):
        if want == ANY_OUTPUT:
            gap = True
            continue
        candidates = range(position, len(printed)) if gap else range(position, position + 1)
        hits = [i for i in candidates if i < len(printed) and shows(printed[i], want)]
        if not hits:
            return want
        position, gap = hits[0] + 1, False
    return None


def section(document: Document, title: str) -> tuple[int, int] | None:
    """The line range of the `## title` section (up to the next heading of its level)."""
    for index, (level, heading, line) in enumerate(document.headings):
        if heading == title:
            after = [n for lvl, _, n in document.headings[index + 1 :] if lvl <= level]
            return line, after[0] if after else 10**9
    return None


def exercises(document: Document) -> list[tuple[str, list[Block]]]:
    """Each `### Exercise …` of the `## Exercises` section with the fenced blocks in it."""
    bounds = section(document, "Exercises")
    if bounds is None:
        return []
    starts = [
        (title, line)
        for level, title, line in document.headings
        if level == 3 and title.startswith("Exercise") and bounds[0] < line < bounds[1]
    ]
    found = []
    for index, (title, line) in enumerate(starts):
        end = starts[index + 1][1] if index + 1 < len(starts) else bounds[1]
        found.append((title, [block for block in document.blocks if line < block.line < end]))
    return found


def github_anchor(title: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a Markdown file, with GitHub's -1, -2 … for repeated ones."""
    seen: dict[str, int] = {}
    found = set()
    for _, title, _ in parse(path).headings:
        anchor = github_anchor(title)
        found.add(f"{anchor}-{seen[anchor]}" if anchor in seen else anchor)
        seen[anchor] = seen.get(anchor, 0) + 1
    return found


def relative_links(document: Document) -> Iterator[tuple[int, str]]:
    """Links of the prose (not of code) that point inside the repository."""
    for number, line in document.prose:
        line = re.sub(r"`[^`]*`", "", line)
        for pattern in (LINK, HTML_LINK):
            for match in pattern.finditer(line):
                target = match["target"].strip("<>")
                if not re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: …
                    yield number, target


def broken_link(source: Path, target: str) -> str | None:
    """Why a relative link does not resolve, or None."""
    location, _, anchor = target.partition("#")
    path = source if not location else (source.parent / urllib.parse.unquote(location))
    if not path.exists():
        return f"{target}: no such file or folder"
    if anchor and path.suffix == ".md" and urllib.parse.unquote(anchor) not in anchors(path):
        return f"{target}: {path.name} has no heading with the anchor #{anchor}"
    return None


def sentences(text: str) -> set[str]:
    """The prose sentences of a Markdown text, normalised: no code blocks, no Markdown marks,
    lower case, one space between words. List items and table cells count on their own."""
    chunks: list[list[str]] = [[]]
    in_code = False
    for line in text.splitlines():
        if FENCE.match(line):
            in_code = not in_code
            continue
        stripped = line.strip()
        if in_code or not stripped or stripped.startswith(("#", "<")):
            chunks.append([])
            continue
        if stripped.startswith("|"):
            chunks.extend([cell] for cell in stripped.split("|"))
            chunks.append([])
            continue
        if re.match(r"([-*+]|\d+\.) ", stripped):
            chunks.append([])
        chunks[-1].append(re.sub(r"^([-*+]|\d+\.|>) +", "", stripped))
    found = set()
    for chunk in chunks:
        plain = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", " ".join(chunk))  # a link: its text
        plain = re.sub(r"[*`]", "", plain).lower()
        for sentence in re.split(r"(?<=[.!?])\s+", plain):
            words = sentence.strip(" .!?:;,").split()
            if len(words) >= MIN_SHARED_WORDS:
                found.add(" ".join(words))
    return found


def _flat(text: str) -> str:
    """A whole text as `sentences` sees its prose: links as their text, no marks, one line."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"^\s*([-*+]|\d+\.|>) +", "", text, flags=re.MULTILINE)
    return " ".join(re.sub(r"[*`]", "", text).lower().split())


def shared_sentences(one: str, other: str) -> set[str]:
    """Sentences of at least MIN_SHARED_WORDS words of one text that the other text contains."""
    flat_one, flat_other = _flat(one), _flat(other)
    return {s for s in sentences(one) if s in flat_other} | {
        s for s in sentences(other) if s in flat_one
    }


# The parts every lesson has (see docs/README.md, "Each lesson has the same parts").
REQUIRED_SECTIONS = [
    "What makes a project level {n}",
    "The architecture",
    "Render it and run it",
    "Exercises",
]


def lesson_problems(level: int, path: Path) -> list[str]:
    """What a lesson lacks of the parts that every lesson has; empty when complete."""
    document = parse(path)
    problems = []
    titles = [title for _, title, _ in document.headings]
    if not titles or not titles[0].startswith(f"Lesson {level}:"):
        problems.append(f"the first heading is not 'Lesson {level}: …'")
    wanted = [title.format(n=level) for title in REQUIRED_SECTIONS]
    if level > min(LESSONS):
        wanted.append(f"Read the diff from level {level - 1}")
    wanted.append(
        f"The pains that level {level + 1} removes"
        if level < max(LESSONS)
        else f"What level {level} leaves to people"
    )
    problems += [f"no section '## {title}'" for title in wanted if title not in titles]
    if not any(block.info == "mermaid" for block in document.blocks):
        problems.append("no ```mermaid picture")
    commands = [step.command for step in runnable_steps(path)]
    render = f"python3 -m nox -s new -- {level}"
    if render not in commands:
        problems.append(f"no runnable `{render}`")
    if level > min(LESSONS) and f"python3 -m nox -s diff -- {level - 1} {level}" not in commands:
        problems.append(f"no runnable `python3 -m nox -s diff -- {level - 1} {level}`")
    found = exercises(document)
    if not 2 <= len(found) <= 3:
        problems.append(f"{len(found)} exercises, not 2 or 3")
    for title, blocks in found:
        runnable = [block for block in blocks if block.runnable]
        solutions = [block for block in runnable if block.in_details]
        if not solutions:
            problems.append(f"{title}: no runnable solution inside <details>")
        # The check is the first runnable block after the solution; undo steps may follow.
        checks = [
            block
            for block in runnable
            if not block.in_details and (not solutions or block.line > solutions[0].line)
        ]
        if not checks:
            problems.append(f"{title}: no runnable check after its solution")
        elif not steps(checks[0], path.name)[-1].expected:
            problems.append(f"{title}: its check does not show the expected output")
    started = [n for n, command in enumerate(commands) if "make deploy" in command]
    stops = ("make stop", "make reset-demo", "kill $(cat serve.pid)")
    stopped = [n for n, command in enumerate(commands) if any(s in command for s in stops)]
    if started and not (stopped and stopped[-1] > started[-1]):
        problems.append("starts the service (`make deploy`) but never stops it (`make stop`)")
    return problems
