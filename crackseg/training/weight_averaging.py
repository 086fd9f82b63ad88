"""Average the weights of several checkpoints of one training run (stochastic weight averaging).

Why: a short fine-tune on this CPU makes 50-60 optimizer steps an epoch, and Ultralytics'
EMA ramps its decay as ``0.9999 * (1 - exp(-updates / 2000))``: after six such epochs it
is about 0.15, so the saved EMA weights are close to the last step's and carry its noise.
Averaging the weights of the last few epochs (Izmailov et al., "Averaging Weights Leads
to Wider Optima and Better Generalization", 2018; Wortsman et al., "Model soups", 2022)
costs no training, and the result is one ordinary checkpoint that the promotion gates
score like any candidate.

Only checkpoints of one architecture average meaningfully (same keys, same shapes); the
float tensors are averaged in float64 and stored back in their own dtype, the integer
buffers (BatchNorm's ``num_batches_tracked``) are taken from the last checkpoint, and so
is everything else in the file (names, training arguments). The BatchNorm running
statistics are averaged like the weights, as model soups do, rather than recomputed.

These are the project's own training checkpoints (``torch.load`` unpickles): never call
this on a file a user uploaded.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from crackseg.core.errors import ModelLoadError


def _checkpoint_module(checkpoint: dict[str, Any], path: Path) -> Any:
    """The network a checkpoint ships: its EMA when it has one (as Ultralytics loads it), else ``model``."""
    module = checkpoint.get("ema") or checkpoint.get("model")
    if module is None or not hasattr(module, "state_dict"):
        raise ModelLoadError(f"{path}: not an Ultralytics checkpoint (no 'ema' or 'model' network)")
    return module


def average_checkpoints(paths: Sequence[Path], out_path: Path) -> Path:
    """Write to ``out_path`` a checkpoint whose weights are the mean of those of ``paths``.

    The file is the last checkpoint's, stripped of optimizer state and EMA (the averaged
    network is its ``model``), with ``averaged_from`` listing the sources. Raises
    ``ModelLoadError`` if fewer than two files are given, one cannot be read, or their
    networks differ in a key or a shape.
    """
    import torch

    paths = [Path(path) for path in paths]
    if len(paths) < 2:
        raise ModelLoadError(f"averaging needs at least two checkpoints, got {len(paths)}")
    sums: dict[str, torch.Tensor] = {}
    last_checkpoint: dict[str, Any] = {}
    last_state: dict[str, torch.Tensor] = {}
    for path in paths:
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=False)  # our own training output
        except Exception as error:  # noqa: BLE001 - any failure to read is the same error
            raise ModelLoadError(f"{path}: not a readable checkpoint ({type(error).__name__})") from error
        if not isinstance(checkpoint, dict):
            raise ModelLoadError(f"{path}: not an Ultralytics checkpoint (a {type(checkpoint).__name__})")
        state = _checkpoint_module(checkpoint, path).state_dict()
        if sums and (state.keys() != sums.keys()):
            raise ModelLoadError(f"{path}: its network has other layers than {paths[0]}'s; cannot average")
        for key, tensor in state.items():
            if key in sums and tuple(sums[key].shape) != tuple(tensor.shape):
                raise ModelLoadError(
                    f"{path}: {key} has shape {tuple(tensor.shape)}, {paths[0]} has {tuple(sums[key].shape)}"
                )
            if tensor.is_floating_point():
                value = tensor.detach().to(torch.float64)
                sums[key] = value.clone() if key not in sums else sums[key] + value
            else:
                sums[key] = tensor.detach().clone()  # integer buffers: the last file's
        last_checkpoint, last_state = checkpoint, state
    averaged = {
        key: (sums[key] / len(paths)).to(tensor.dtype) if tensor.is_floating_point() else sums[key]
        for key, tensor in last_state.items()
    }
    network = copy.deepcopy(_checkpoint_module(last_checkpoint, paths[-1]))
    network.load_state_dict(averaged)
    result = dict(last_checkpoint)
    result.update(
        model=network,
        ema=None,
        updates=None,
        optimizer=None,
        scaler=None,
        best_fitness=None,
        epoch=-1,
        averaged_from=[str(path) for path in paths],
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(result, out_path)
    return out_path
