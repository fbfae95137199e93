"""The model registry: a version loads by its alias or by its number, and one that is not there
is a LookupError that names it."""

import mlflow
import pandas as pd
import pytest

from {{ cookiecutter.package_name }} import registry, tracking
from {{ cookiecutter.package_name }}.gate import release
from {{ cookiecutter.package_name }}.predict import predict
from {{ cookiecutter.package_name }}.schema import CATEGORICAL, NUMERICAL
from {{ cookiecutter.package_name }}.train import train


def test_load_version__loads_a_version_whatever_its_aliases(
    store: str, rides: pd.DataFrame
) -> None:
    example = rides[[*CATEGORICAL, *NUMERICAL]].head(5)
    with mlflow.start_run() as run:
        uri = tracking.log_model(train(rides, alpha=1.0), example)
    release(uri, rides, "2024-01", margin=0.01, max_rmse=60.0)  # version 1, the champion
    with mlflow.start_run():
        other = train(rides, alpha=50.0)
        version = mlflow.register_model(tracking.log_model(other, example), registry.MODEL_NAME)

    loaded = registry.load_version(str(version.version))
    assert (loaded.version, loaded.alias) == ("2", "")
    expected = predict(other, example).tolist()
    assert predict(loaded.model, example).tolist() == pytest.approx(expected)
    assert registry.load_version("1").run_id == run.info.run_id
    assert registry.load(registry.CHAMPION).version == "1"


def test_load_version__a_version_that_is_not_there_is_named(store: str) -> None:
    with pytest.raises(LookupError, match=f"{registry.MODEL_NAME!r} has no version 9"):
        registry.load_version("9")
    with pytest.raises(LookupError, match="has the alias 'champion' yet"):
        registry.load(registry.CHAMPION)
