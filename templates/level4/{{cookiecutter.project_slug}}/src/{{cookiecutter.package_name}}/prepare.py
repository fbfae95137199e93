"""DVC stage `prepare`: clean the raw training and validation months."""

from pathlib import Path

from .config import load_settings
from .data import clean, month_path, read_month


def prepare(raw_dir: Path, month: str, out: Path) -> int:
    """Clean one raw month into `out`; returns the number of rides kept."""
    rides = clean(read_month(month_path(raw_dir, month)))
    out.parent.mkdir(parents=True, exist_ok=True)
    rides.to_parquet(out, index=False)
    return len(rides)


def main() -> None:
    settings = load_settings()
    for month, out in ((settings.train_month, settings.train_path),
                       (settings.val_month, settings.val_path)):  # fmt: skip
        print(f"prepared {prepare(settings.data_dir, month, out)} rides of {month} -> {out}")


if __name__ == "__main__":
    main()
