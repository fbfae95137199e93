"""DVC stage `ingest`: fetch the months the pipeline needs, validate them, then keep them."""

import shutil
import tempfile
import urllib.request
from pathlib import Path

import pandas as pd
import pyarrow as pa

from .config import Settings, run_stage
from .data import month_path
from .schema import file_name
from .simulate import write_month
from .validate import problems


class BatchRefused(Exception):
    """A fetched month failed validation; nothing downstream may use it."""


def fetch(source: str, month: str, folder: Path, settings: Settings) -> Path:
    """Get one month from the source into `folder`: simulator, URL prefix, or folder."""
    if source == "simulator":
        return write_month(month, folder, settings.data.rides, seed=settings.data.seed)
    target = folder / file_name(month)
    if source.startswith(("http://", "https://")):
        url = f"{source.rstrip('/')}/{file_name(month)}"
        urllib.request.urlretrieve(url, target)  # noqa: S310 (an http(s) URL, checked above)
    else:
        shutil.copyfile(Path(source) / file_name(month), target)
    return target


def read_batch(batch: Path, source: str) -> pd.DataFrame:
    """A fetched month as a frame; a file that is not whole, readable parquet is refused."""
    try:
        return pd.read_parquet(batch)
    except (pa.ArrowException, OSError, ValueError) as error:  # truncated, corrupt, not parquet
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise BatchRefused(f"refused {batch.name} from {source}: unreadable: {reason}") from None


def ingest(settings: Settings) -> list[Path]:
    """Fetch and validate every month first; only a fully valid set replaces data/raw."""
    with tempfile.TemporaryDirectory() as staging:
        fetched = []
        for month in (settings.data.train_month, settings.data.val_month):
            batch = fetch(settings.ingest.source, month, Path(staging), settings)
            rides = read_batch(batch, settings.ingest.source)
            found = problems(rides, month, settings.ingest.min_rows, settings.ingest.max_bad_share)
            if found:
                details = "\n".join(f"  - {problem}" for problem in found)
                raise BatchRefused(
                    f"refused {file_name(month)} from {settings.ingest.source}:\n{details}"
                )
            fetched.append((batch, month_path(settings.paths.raw, month)))
        settings.paths.raw.mkdir(parents=True, exist_ok=True)
        return [Path(shutil.move(batch, target)) for batch, target in fetched]


def main(settings: Settings) -> None:
    try:
        for path in ingest(settings):
            print(f"ingested {path} from {settings.ingest.source}")
    except (BatchRefused, FileNotFoundError, OSError) as error:
        raise SystemExit(f"ingest: {error}") from None


if __name__ == "__main__":
    run_stage(main)
