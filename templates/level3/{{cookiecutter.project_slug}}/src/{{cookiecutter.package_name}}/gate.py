"""DVC stage `gate`: register the new model as challenger; promote it only if it is better."""

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import mlflow
import pandas as pd
from mlflow import MlflowClient

from . import registry, tracking
from .config import Settings, run_stage
from .evaluate import rmse


@dataclass(frozen=True)
class Decision:
    """What the gate decided about one challenger, and why."""

    promoted: bool
    reason: str
    challenger_version: str
    challenger_rmse: float
    champion_version: str | None
    champion_rmse: float | None
    holdout_month: str
    decided_at: str


def decide(
    challenger: float, champion: float | None, margin: float, max_rmse: float
) -> tuple[bool, str]:
    """Promote only within the floor, and only when better than the champion by the margin."""
    if challenger > max_rmse:
        return False, f"RMSE {challenger:.4f} is worse than the floor {max_rmse}"
    if champion is None:
        return True, f"first model: RMSE {challenger:.4f} is within the floor {max_rmse}"
    if challenger <= champion - margin:
        return True, f"RMSE {challenger:.4f} beats the champion's {champion:.4f} by >= {margin}"
    return False, f"RMSE {challenger:.4f} does not beat the champion's {champion:.4f} by {margin}"


def record(decision: Decision, client: MlflowClient) -> None:
    """Tag the challenger's model version with the decision and its figures."""
    for key, value in asdict(decision).items():
        client.set_model_version_tag(
            registry.MODEL_NAME, decision.challenger_version, f"gate.{key}", str(value)
        )


def release(
    model_uri: str,
    holdout: pd.DataFrame,
    holdout_name: str,
    margin: float,
    max_rmse: float,
    tags: dict[str, str] | None = None,
) -> Decision:
    """The one way a model reaches production, for the pipeline and for retraining alike:
    register it as the challenger, score it and the champion on the same holdout, decide,
    record the decision on the version, and only then promote it if it won."""
    client = MlflowClient()
    version = str(mlflow.register_model(model_uri, registry.MODEL_NAME, tags=tags).version)
    client.set_registered_model_alias(registry.MODEL_NAME, registry.CHALLENGER, version)
    challenger_rmse = rmse(registry.load(registry.CHALLENGER).model, holdout)
    try:
        champion = registry.load(registry.CHAMPION)
        champion_version, champion_rmse = champion.version, rmse(champion.model, holdout)
    except LookupError:
        champion_version, champion_rmse = None, None

    promoted, reason = decide(challenger_rmse, champion_rmse, margin, max_rmse)
    decision = Decision(
        promoted=promoted,
        reason=reason,
        challenger_version=version,
        challenger_rmse=challenger_rmse,
        champion_version=champion_version,
        champion_rmse=champion_rmse,
        holdout_month=holdout_name,
        decided_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    record(decision, client)
    if promoted:
        client.set_registered_model_alias(registry.MODEL_NAME, registry.CHAMPION, version)
    return decision


def main(settings: Settings) -> None:
    tracking.start()
    trained = json.loads(settings.paths.run.read_text())
    holdout = pd.read_parquet(settings.paths.val)  # both models scored on the same rides
    decision = release(
        trained["model_uri"],
        holdout,
        settings.data.val_month,
        settings.gate.margin,
        settings.evaluate.max_rmse,
    )

    settings.paths.gate.parent.mkdir(parents=True, exist_ok=True)
    settings.paths.gate.write_text(json.dumps(asdict(decision), indent=2) + "\n")
    with settings.paths.decisions.open("a") as decisions:
        decisions.write(json.dumps(asdict(decision)) + "\n")
    verdict = "promoted to champion" if decision.promoted else "rejected"
    print(f"gate: version {decision.challenger_version} {verdict}: {decision.reason}")


if __name__ == "__main__":
    run_stage(main)
