"""DVC stage `prepare`: clean the raw training and validation months."""

from pathlib import Path

from .config import Settings, run_stage
from .data import clean, month_path, read_month


def prepare(raw_dir: Path, month: str, out: Path) -> int:
    """Clean one raw month into `out`; returns the number of rides kept."""
    rides = clean(read_month(month_path(raw_dir, month)))
    out.parent.mkdir(parents=True, exist_ok=True)
    rides.to_parquet(out, index=False)
    return len(rides)


def main(settings: Settings) -> None:
    for month, out in ((settings.data.train_month, settings.paths.train),
                       (settings.data.val_month, settings.paths.val)):  # fmt: skip
        print(f"prepared {prepare(settings.paths.raw, month, out)} rides of {month} -> {out}")


if __name__ == "__main__":
    run_stage(main)
