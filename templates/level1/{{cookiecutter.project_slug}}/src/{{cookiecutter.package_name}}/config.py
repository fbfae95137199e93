"""Settings of a run, read once at the edge and passed down as plain values."""

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    """Defaults that the command line can override."""

    data_dir: Path = Path("data/raw")
    model_path: Path = Path("models/model.pkl")
    train_month: str = "2024-01"
    val_month: str = "2024-02"
    rides: int = 20_000
    seed: int = 42
    alpha: float = 1.0
