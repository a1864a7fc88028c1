"""The text table of ``Sequential.summary``: each layer, its output shape, its parameters."""

from __future__ import annotations

import dataclasses

from deeprecipe.engine.layers import Dense

__all__ = ["summary_table"]


def summary_table(net) -> str:
    """Rows of (#, layer with its non-default settings, output shape (m, n), parameter count)
    for a built Sequential, then its input shape, parameter count and dtype."""
    rows = [f"{'#':>3}  {'layer':<34}{'output':>10}{'params':>10}"]
    n = net.input_dim
    for i, layer in enumerate(net.layers):
        n = layer.n_out if layer.n_out else n
        count = sum(p.size for p in layer.params.values())
        fields = dataclasses.fields(layer)  # the first always, the rest if not default
        settings = [str(layer.n_out)] if isinstance(layer, Dense) else [
            f"{f.name}={getattr(layer, f.name)!r}" for f in fields[:1]]
        settings += [f"{f.name}={getattr(layer, f.name)!r}" for f in fields[1:]
                     if getattr(layer, f.name) != f.default]
        name = type(layer).__name__ + (f"({', '.join(settings)})" if settings else "")
        rows.append(f"{i:>3}  {name[:34]:<34}{'(m, ' + str(n) + ')':>10}{count:>10}")
    rows.append(f"input (m, {net.input_dim}), {net.n_params} trainable parameters, "
                f"{net.dtype.name}")
    return "\n".join(rows)
