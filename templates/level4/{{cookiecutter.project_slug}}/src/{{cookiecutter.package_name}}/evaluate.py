"""Score a model on clean rides."""

import json
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from sklearn.metrics import mean_absolute_error, root_mean_squared_error
from sklearn.pipeline import Pipeline

from . import tracking
from .config import Settings, run_stage
from .predict import predict
from .schema import TARGET
from .train import load_model


def rmse(model: Pipeline, rides: pd.DataFrame) -> float:
    """Root mean squared error of the predicted duration, in minutes."""
    return float(root_mean_squared_error(rides[TARGET], predict(model, rides)))


def scores(rides: pd.DataFrame, predicted: pd.Series) -> dict[str, float]:
    """The metrics that DVC compares between commits and experiments."""
    return {
        "rmse": float(root_mean_squared_error(rides[TARGET], predicted)),
        "mae": float(mean_absolute_error(rides[TARGET], predicted)),
        "rides": len(rides),
    }


def floor_problem(metrics_path: Path, max_rmse: float) -> str | None:
    """Why the evaluated model fails the floor in params.yaml, or None when it passes."""
    value = json.loads(Path(metrics_path).read_text())["rmse"]
    if value > max_rmse:
        return f"validation RMSE {value:.4f} is worse than the floor evaluate.max_rmse={max_rmse}"
    return None


def _tracked_run(run_path: Path) -> str | None:
    """The MLflow run of the train stage, if this tracking store still has it."""
    try:
        run_id = json.loads(Path(run_path).read_text())["run_id"]
        return str(mlflow.get_run(run_id).info.run_id)
    except (FileNotFoundError, MlflowException):
        return None


def main(settings: Settings) -> None:
    """DVC stage `evaluate`: score the validation month; write metrics and plot data."""
    model = load_model(settings.paths.model)
    rides = pd.read_parquet(settings.paths.val)
    predicted = predict(model, rides)
    metrics = scores(rides, predicted)
    settings.paths.metrics.write_text(json.dumps(metrics, indent=2) + "\n")
    sample = pd.DataFrame({"actual": rides[TARGET], "predicted": predicted}).sample(
        n=min(2_000, len(rides)), random_state=0
    )
    settings.paths.predictions.parent.mkdir(parents=True, exist_ok=True)
    sample.round(2).to_csv(settings.paths.predictions, index=False)

    tracking.start()
    with mlflow.start_run(run_id=_tracked_run(settings.paths.run)):
        mlflow.log_metrics({f"val_{name}": value for name, value in metrics.items()})
        mlflow.log_artifact(str(settings.paths.predictions))
    print(f"validation RMSE ({settings.data.val_month}): {metrics['rmse']:.4f} minutes")


if __name__ == "__main__":
    run_stage(main)
