"""Commands for data files: convert (an .npz or .npy shards -> mappable .npy files)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deeprecipe.cli._common import _command, app, out


@app.command()
@_command
def convert(source: Annotated[Path, typer.Argument(help="An .npz file or a folder of .npy "
                                                        "shards (X_000.npy, y_000.npy, ...).")],
            out_dir: Annotated[Path, typer.Argument(help="Folder for the .npy files.")]) -> None:
    """Write memory-mappable .npy files (X.npy, y.npy, ...) from an .npz or .npy shards.

    A compressed .npz must be inflated into memory to be read; the .npy files it becomes are
    memory-mapped instead, so a data set larger than memory trains with bounded memory. Use
    the folder as the data set: dataset = "OUT_DIR" in the config. A folder of .npy shards
    needs no conversion (dataset = "SHARDS_DIR" maps each shard); convert joins it into one
    file per array.

    Example: deeprecipe convert big.npz data/big/
    """
    from deeprecipe.data.mapped import convert as write_npy  # loaded on use: keeps the CLI fast

    for path in write_npy(source, out_dir):
        out.print(f"wrote {path} ({path.stat().st_size / 2**20:,.1f} MiB)", markup=False,
                  soft_wrap=True)
    out.print(f'use it as: dataset = "{out_dir}"', markup=False, soft_wrap=True)
