"""Settings of a run, read once at the edge and passed down as plain values."""

from dataclasses import dataclass
from pathlib import Path

import yaml

from .features import CATEGORICAL, NUMERICAL

PARAMS_FILE = Path("params.yaml")


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
    # Level 2: what the pipeline needs too. `load_settings` fills every field from params.yaml.
    categorical: tuple[str, ...] = CATEGORICAL
    numerical: tuple[str, ...] = NUMERICAL
    max_rmse: float = 6.0
    train_path: Path = Path("data/prepared/train.parquet")
    val_path: Path = Path("data/prepared/val.parquet")
    run_path: Path = Path("models/run.json")
    metrics_path: Path = Path("metrics.json")
    predictions_path: Path = Path("plots/predictions.csv")
    # Level 3: data gathering and the release gate.
    source: str = "simulator"
    min_rows: int = 1000
    max_bad_share: float = 0.01
    margin: float = 0.01
    gate_path: Path = Path("reports/gate.json")
    decisions_path: Path = Path("reports/decisions.jsonl")
    # Level 4: monitoring and retraining.
    window: int = 5000
    min_labelled: int = 200
    drift_share: float = 0.5
    max_live_rmse: float = 6.0
    retrain_rides: int = 3000
    holdout_share: float = 0.3
    retrain_max_rmse: float = 12.0
    lock_minutes: int = 60
    monitoring_dir: Path = Path("reports/monitoring")
    retraining_path: Path = Path("reports/retraining.jsonl")


def load_settings(params_file: Path = PARAMS_FILE) -> Settings:
    """Every setting from params.yaml, the one place for them; a missing key is named."""
    with Path(params_file).open() as source:
        params = yaml.safe_load(source)
    try:
        paths, data, train, evaluate, ingest, gate = (
            params[section] for section in ("paths", "data", "train", "evaluate", "ingest", "gate")
        )
        monitor, retrain = params["monitor"], params["retrain"]
        return Settings(
            data_dir=Path(paths["raw"]),
            model_path=Path(paths["model"]),
            train_month=str(data["train_month"]),
            val_month=str(data["val_month"]),
            rides=int(data["rides"]),
            seed=int(data["seed"]),
            alpha=float(train["alpha"]),
            categorical=tuple(train["categorical"]),
            numerical=tuple(train["numerical"]),
            max_rmse=float(evaluate["max_rmse"]),
            train_path=Path(paths["train"]),
            val_path=Path(paths["val"]),
            run_path=Path(paths["run"]),
            metrics_path=Path(paths["metrics"]),
            predictions_path=Path(paths["predictions"]),
            source=str(ingest["source"]),
            min_rows=int(ingest["min_rows"]),
            max_bad_share=float(ingest["max_bad_share"]),
            margin=float(gate["margin"]),
            gate_path=Path(paths["gate"]),
            decisions_path=Path(paths["decisions"]),
            window=int(monitor["window"]),
            min_labelled=int(monitor["min_labelled"]),
            drift_share=float(monitor["drift_share"]),
            max_live_rmse=float(monitor["max_live_rmse"]),
            retrain_rides=int(retrain["rides"]),
            holdout_share=float(retrain["holdout_share"]),
            retrain_max_rmse=float(retrain["max_rmse"]),
            lock_minutes=int(retrain["lock_minutes"]),
            monitoring_dir=Path(paths["monitoring"]),
            retraining_path=Path(paths["retraining"]),
        )
    except (KeyError, TypeError) as missing:
        raise ValueError(f"{params_file} lacks the setting {missing}") from None
