"""Commands for deployment: export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deeprecipe.cli._common import _command, app, out, parse_out
from deeprecipe.errors import ConfigError


@app.command()
@_command
def export(run_dir: Annotated[Path, typer.Argument(help="A run directory (or model path).")],
           fmt: Annotated[str, typer.Option("--format", help="Only onnx.")] = "onnx",
           out_path: Annotated[Path | None, typer.Option(
               "--out", parser=parse_out,
               help="The file to write (default RUN_DIR/model.onnx).")] = None
           ) -> None:
    """Export the whole predictor (standardization, network, class names) as one file.

    The ONNX file takes raw features X (batch, n_features) float32 and gives `probabilities`
    and `label` (a classifier) or `prediction` (a regression); it runs in ONNX Runtime.

    Example: deeprecipe export runs/demo --format onnx --out demo.onnx
    """
    from deeprecipe.export import export_onnx  # loaded on use: keeps the CLI fast

    if fmt != "onnx":
        raise ConfigError(f"--format must be 'onnx', got {fmt!r}")
    path = export_onnx(run_dir, run_dir / "model.onnx" if out_path is None else out_path)
    out.print(f"wrote {path}", markup=False, soft_wrap=True)
