from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import CATEGORICAL_FEATURE, NUMERICAL_FEATURE, unseen

from {{ cookiecutter.package_name }}.evaluate import rmse
from {{ cookiecutter.package_name }}.predict import PREDICTION, predict
from {{ cookiecutter.package_name }}.schema import TARGET
from {{ cookiecutter.package_name }}.train import load_model, save_model, train


def test_train__beats_predicting_the_mean(rides: pd.DataFrame) -> None:
    model = train(rides, alpha=1.0)
    baseline = float(np.sqrt(((rides[TARGET] - rides[TARGET].mean()) ** 2).mean()))
    assert rmse(model, rides) < 0.8 * baseline


def test_train__on_a_tiny_frame(rides: pd.DataFrame) -> None:
    model = train(rides.head(20), alpha=1.0)
    assert np.isfinite(predict(model, rides.head(5))).all()


def test_predict__one_prediction_per_ride_aligned_with_the_input(rides: pd.DataFrame) -> None:
    model = train(rides, alpha=1.0)
    sample = rides.sample(7, random_state=1)
    predicted = predict(model, sample)
    assert predicted.name == PREDICTION
    assert predicted.index.equals(sample.index)


def test_predict__unseen_label_still_gets_a_prediction(rides: pd.DataFrame) -> None:
    model = train(rides, alpha=1.0)
    ride = rides.head(1).assign(**{CATEGORICAL_FEATURE.name: unseen(CATEGORICAL_FEATURE, rides)})
    assert np.isfinite(predict(model, ride)).all()


def test_predict__missing_feature_is_a_clear_error(rides: pd.DataFrame) -> None:
    model = train(rides, alpha=1.0)
    with pytest.raises(ValueError, match=NUMERICAL_FEATURE.name):
        predict(model, rides.drop(columns=NUMERICAL_FEATURE.name))


def test_save_model__round_trip_gives_the_same_predictions(
    rides: pd.DataFrame, tmp_path: Path
) -> None:
    model = train(rides, alpha=1.0)
    loaded = load_model(save_model(model, tmp_path / "models" / "model.pkl"))
    np.testing.assert_array_equal(predict(loaded, rides), predict(model, rides))


def test_predict__a_ride_without_a_feature_value_gets_nan_the_others_a_prediction(
    rides: pd.DataFrame,
) -> None:
    model = train(rides, alpha=1.0)
    sample = rides.head(3).copy()
    sample.loc[sample.index[1], NUMERICAL_FEATURE.name] = float("nan")
    predicted = predict(model, sample)
    assert predicted.isna().tolist() == [False, True, False]
    complete = sample.drop(index=sample.index[1])
    assert predicted.dropna().tolist() == predict(model, complete).tolist()


def test_train__rides_without_a_feature_column_are_one_clear_error(rides: pd.DataFrame) -> None:
    with pytest.raises(
        ValueError, match=rf"rides lack the feature columns \['{NUMERICAL_FEATURE.name}'\]"
    ):
        train(rides.drop(columns=NUMERICAL_FEATURE.name), alpha=1.0)
