"""Settings of a run: params.yaml holds every value, this module only their names and types.

They are read once, at the edge (`main()` of the command line or of a pipeline stage), checked
whole (a missing key, an unknown key or a wrong type is named, with the file), and passed down as
frozen values.
"""

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from . import schema

PARAMS_FILE = Path("params.yaml")

Month = Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
Share = Annotated[float, Field(ge=0, le=1)]


class Section(BaseModel):
    """One section of params.yaml: every key required, none unknown, frozen once read."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Paths(Section):
    raw: Path
    train: Path
    val: Path
    model: Path
    run: Path
    metrics: Path
    predictions: Path
    gate: Path
    decisions: Path
    monitoring: Path
    retraining: Path


class Data(Section):
    train_month: Month
    val_month: Month
    rides: PositiveInt
    seed: int


class Train(Section):
    alpha: Annotated[float, Field(ge=0)]
    categorical: tuple[str, ...]  # which of the schema's features the model uses
    numerical: tuple[str, ...]

    @field_validator("categorical", "numerical")
    @classmethod
    def in_schema(cls, names: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        """Each name is a feature of that kind in schema.py."""
        kind = schema.CATEGORICAL if info.field_name == "categorical" else schema.NUMERICAL
        if unknown := [name for name in names if name not in kind]:
            raise ValueError(f"{unknown} not among the {info.field_name} features of schema.py")
        return names

    @model_validator(mode="after")
    def some_feature(self) -> "Train":
        """A model needs at least one feature to learn from."""
        if not self.categorical and not self.numerical:
            raise ValueError("no feature: name at least one in categorical or numerical")
        return self


class Evaluate(Section):
    max_rmse: Annotated[float, Field(gt=0)]


class Ingest(Section):
    source: str
    min_rows: PositiveInt
    max_bad_share: Share


class Gate(Section):
    margin: Annotated[float, Field(ge=0)]


class Monitor(Section):
    window: PositiveInt
    min_labelled: PositiveInt
    drift_share: Share
    max_live_rmse: Annotated[float, Field(gt=0)]


class Retrain(Section):
    rides: PositiveInt
    holdout_share: Annotated[float, Field(gt=0, lt=1)]
    max_rmse: Annotated[float, Field(gt=0)]
    lock_minutes: PositiveInt


class Settings(Section):
    """Every setting, by the section of params.yaml that holds it."""

    paths: Paths
    data: Data
    train: Train
    evaluate: Evaluate
    ingest: Ingest
    gate: Gate
    monitor: Monitor
    retrain: Retrain


class SettingsError(Exception):
    """The parameter file is missing or wrong; the message names the file and the key."""


def load_settings(params_file: Path = PARAMS_FILE) -> Settings:
    """Every setting from params_file, checked; SettingsError says what is wrong, in one line.

    Its paths stay relative to the folder the command runs in: the project's own folder.
    """
    path = Path(params_file)
    if not path.exists():
        raise SettingsError(
            f"{path} is missing: run from the project's folder, or name the settings file: "
            "--params PATH before the command"
        )
    try:
        with path.open(encoding="utf-8") as source:
            params = yaml.safe_load(source)
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsError(f"{path} cannot be read: {error}") from None
    except yaml.YAMLError as error:
        raise SettingsError(f"{path} is not valid YAML: {error}".replace("\n", " ")) from None
    return _validated(params, str(path))


def override(settings: Settings, changes: Mapping[str, object]) -> Settings:
    """These settings with dotted keys changed (`{"train.alpha": 0.5}`), checked as the file is."""
    params = settings.model_dump()
    for dotted, value in changes.items():
        *sections, key = dotted.split(".")
        table: Any = params
        for section in sections:
            table = table.get(section) if isinstance(table, dict) else None
        if not isinstance(table, dict) or key not in table:
            raise SettingsError(f"{dotted}: no such setting")
        table[key] = value
    return _validated(params, "the changed settings")


def _validated(params: object, source: str) -> Settings:
    """The settings that params hold, or a SettingsError naming each wrong key."""
    try:
        return Settings.model_validate(params)
    except ValidationError as error:
        problems = [
            f"{'.'.join(str(part) for part in problem['loc']) or 'the file'}: {problem['msg']}"
            for problem in error.errors()
        ]
        raise SettingsError(f"{source}: {'; '.join(problems)}") from None


def run_stage(stage: Callable[[Settings], None], params_file: Path = PARAMS_FILE) -> None:
    """Run a pipeline stage (`python -m ...`) on params.yaml; bad settings: one line, exit 2."""
    try:
        settings = load_settings(params_file)
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    stage(settings)
