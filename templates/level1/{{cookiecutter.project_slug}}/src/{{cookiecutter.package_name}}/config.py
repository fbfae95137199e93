"""Settings of a run, grouped as a parameter file would group them, passed down as plain values."""

from dataclasses import dataclass, field
from pathlib import Path

from .schema import CATEGORICAL, NUMERICAL


@dataclass(frozen=True)
class Paths:
    """Where the data and the model live."""

    raw: Path = Path("data/raw")
    model: Path = Path("models/model.pkl")


@dataclass(frozen=True)
class Data:
    """Which months to learn from and to validate on, and how to simulate them."""

    train_month: str = "2024-01"
    val_month: str = "2024-02"
    rides: int = 20_000
    seed: int = 42


@dataclass(frozen=True)
class Train:
    """The model's hyper-parameters."""

    alpha: float = 1.0
    categorical: tuple[str, ...] = CATEGORICAL
    numerical: tuple[str, ...] = NUMERICAL


@dataclass(frozen=True)
class Settings:
    """Every setting; the command line overrides some of them for one run."""

    paths: Paths = field(default_factory=Paths)
    data: Data = field(default_factory=Data)
    train: Train = field(default_factory=Train)
