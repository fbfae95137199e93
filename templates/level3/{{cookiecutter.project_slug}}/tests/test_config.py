"""params.yaml is the one source of the settings: read whole, checked, and named when wrong."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.config import (
    Settings,
    SettingsError,
    load_settings,
    override,
    run_stage,
)

PROJECT = Path(__file__).parents[1]


def write_params(folder: Path, change: dict[str, object], drop: str = "") -> Path:
    """The project's params.yaml with dotted keys changed (or one dropped), written to folder."""
    params = yaml.safe_load((PROJECT / "params.yaml").read_text())
    for dotted, value in [*change.items(), *([(drop, None)] if drop else [])]:
        *sections, key = dotted.split(".")
        table = params
        for section in sections:
            table = table[section]
        if dotted == drop:
            del table[key]
        else:
            table[key] = value
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_load_settings__reads_every_section_of_the_projects_file() -> None:
    settings = load_settings(PROJECT / "params.yaml")
    params = yaml.safe_load((PROJECT / "params.yaml").read_text())
    assert settings.model_dump(mode="json") == params, "every key, and no other, is a setting"


@pytest.mark.parametrize(
    ("change", "drop", "named"),
    [
        ({}, "train.alpha", "train.alpha: Field required"),
        ({"data.rides": "many"}, "", "data.rides: Input should be a valid integer"),
        ({"data.train_month": "2024-13"}, "", "data.train_month: String should match"),
        ({"train.alpfa": 0.5}, "", "train.alpfa: Extra inputs are not permitted"),
        (
            {"train.numerical": ["trip_distance", "fare_amount"]},
            "",
            "train.numerical: Value error, ['fare_amount'] not among the numerical features",
        ),
        (
            {"train.categorical": [], "train.numerical": []},
            "",
            "train: Value error, no feature: name at least one in categorical or numerical",
        ),
    ],
)
def test_load_settings__a_wrong_setting_is_named_with_its_file(
    tmp_path: Path, change: dict[str, object], drop: str, named: str
) -> None:
    path = write_params(tmp_path, change, drop)
    with pytest.raises(SettingsError) as wrong:
        load_settings(path)
    assert str(wrong.value).startswith(f"{path}: ")
    assert named in str(wrong.value)


def test_load_settings__a_missing_or_broken_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"params\.yaml is missing: run from the project's"):
        load_settings(tmp_path / "params.yaml")
    (tmp_path / "params.yaml").write_text("data: [unclosed\n")
    with pytest.raises(SettingsError, match=r"params\.yaml is not valid YAML"):
        load_settings(tmp_path / "params.yaml")
    (tmp_path / "params.yaml").write_text("")
    with pytest.raises(SettingsError, match="the file: Input should be a valid dictionary"):
        load_settings(tmp_path / "params.yaml")


def test_load_settings__an_unreadable_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_bytes(b"data:\n  rides: \xff\n")
    with pytest.raises(SettingsError, match=r"params\.yaml cannot be read: .*utf-8"):
        load_settings(tmp_path / "params.yaml")
    with pytest.raises(SettingsError, match="cannot be read"):
        load_settings(tmp_path)  # a folder


def test_override__names_the_key_that_is_wrong() -> None:
    settings = load_settings(PROJECT / "params.yaml")
    assert override(settings, {"train.alpha": 0.5}).train.alpha == 0.5
    assert settings == load_settings(PROJECT / "params.yaml"), "a copy; the settings stay"
    with pytest.raises(SettingsError, match=r"^the changed settings: train\.alpha: Input should"):
        override(settings, {"train.alpha": -1, "data.seed": 3})
    for unknown in ("nope.x", "train.alpha.x", "train.alfa"):
        with pytest.raises(SettingsError, match=f"^{unknown}: no such setting"):
            override(settings, {unknown: 1})


def test_settings__are_frozen() -> None:
    settings = load_settings(PROJECT / "params.yaml")
    with pytest.raises(ValueError, match="frozen"):
        settings.train.alpha = 0.5


def test_cli__from_the_wrong_folder_says_params_yaml_is_missing_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", main.__module__.split(".")[0], "train"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == (
        "error: params.yaml is missing: run from the project's folder, or name the settings "
        "file: --params PATH before the command\n"
    ), "one line, no traceback"


def test_cli__params_names_another_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_params(tmp_path, {"evaluate.max_rmse": "high"})
    with pytest.raises(SystemExit) as stop:
        main(["--params", str(path), "check"])
    assert stop.value.code == 2
    assert f"{path}: evaluate.max_rmse: Input should be a valid number" in capsys.readouterr().err


def test_run_stage__bad_settings_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ran: list[Settings] = []
    with pytest.raises(SystemExit) as stop:
        run_stage(ran.append, write_params(tmp_path, {}, drop="paths.model"))
    assert stop.value.code == 2
    assert not ran
    assert capsys.readouterr().err.strip().endswith("paths.model: Field required")
    run_stage(ran.append, PROJECT / "params.yaml")
    assert ran == [load_settings(PROJECT / "params.yaml")]
