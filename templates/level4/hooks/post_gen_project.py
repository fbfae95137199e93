"""Tell the person what they just made and what to do next.

This file is identical in every level of mlops-ladder.
"""

LEVEL = {{ cookiecutter._level | tojson }}
SLUG = {{ cookiecutter.project_slug | tojson }}

print(f"Created {SLUG}/ at MLOps maturity level {LEVEL}. Next: cd {SLUG} and read README.md.")
