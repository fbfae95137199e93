"""Refuse answers that would render a broken project, before any file is written.

This file is identical in every level of mlops-ladder.
"""

import keyword
import re
import sys

ANSWERS = {
    "project_name": {{ cookiecutter.project_name | tojson }},
    "project_slug": {{ cookiecutter.project_slug | tojson }},
    "package_name": {{ cookiecutter.package_name | tojson }},
    "description": {{ cookiecutter.description | tojson }},
    "author_name": {{ cookiecutter.author_name | tojson }},
    "author_email": {{ cookiecutter.author_email | tojson }},
    "python_version": {{ cookiecutter.python_version | tojson }},
}
SUPPORTED_PYTHONS = ("3.11", "3.12", "3.13")
# Importing the package must not shadow a library that the levels depend on.
TAKEN_NAMES = {
    *("dvc", "evidently", "fastapi", "httpx", "joblib", "matplotlib", "mlflow", "numpy"),
    *("pandas", "pyarrow", "pydantic", "pytest", "ruff", "scipy", "sklearn", "starlette"),
    *("tests", "uvicorn", "yaml"),
}
IDENTIFIER_RULE = (
    "it must be an ASCII Python identifier (lowercase letters, digits and underscores, "
    "starting with a letter) that is not a Python keyword, e.g. taxi_ride_duration"
)
NO_SLUG = "_"  # what cookiecutter.json derives from a name without letters or digits
TEXT_RULE = "it must be one line of text without double quotes or backslashes"


def identifier_problem(name: str) -> str | None:
    """Why `name` cannot be a folder and import name, or None when it can."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        return IDENTIFIER_RULE
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return f"it is a Python keyword; {IDENTIFIER_RULE}"
    if name in sys.stdlib_module_names or name in TAKEN_NAMES:
        return "it would shadow the module of the same name; choose another name"
    return None


def problems(answers: dict[str, str]) -> list[str]:
    """One message per bad answer, naming the answer, its value and the rule it breaks."""
    found = []
    for key in ("project_name", "description", "author_name", "author_email"):
        value = answers[key]
        if not value.strip() or not value.isprintable() or '"' in value or "\\" in value:
            found.append(f"{key} {value!r} is not allowed: {TEXT_RULE}")
    names = {"project_slug": answers["project_slug"], "package_name": answers["package_name"]}
    if names["package_name"] == names["project_slug"]:
        del names["package_name"]  # derived from the slug: one message is enough
    if names.get("project_slug") == NO_SLUG:
        del names["project_slug"]
        found.append(
            f"project_name {answers['project_name']!r} has no letters or digits to make "
            "a project_slug from: give a project_slug too"
        )
    for key, name in names.items():
        rule = identifier_problem(name)
        if rule:
            found.append(f"{key} {name!r} is not allowed: {rule}")
    if not re.fullmatch(r"[^@\s]+@[^@\s]+", answers["author_email"]):
        found.append(f"author_email {answers['author_email']!r} is not an e-mail address")
    if answers["python_version"] not in SUPPORTED_PYTHONS:
        found.append(
            f"python_version {answers['python_version']!r} is not supported: "
            f"choose one of {', '.join(SUPPORTED_PYTHONS)}"
        )
    return found


def main() -> int:
    """Print each problem on one line and fail, so cookiecutter removes the folder."""
    found = problems(ANSWERS)
    for problem in found:
        print(f"ERROR: {problem}", file=sys.stderr)
    return 1 if found else 0


sys.exit(main())
