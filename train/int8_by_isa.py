"""The INT8 check measured again under each oneDNN instruction-set cap: what other CPUs would see.

OpenVINO's INT8 kernels are not the same on every x86 CPU, and neither are their results: without
VNNI (AVX2, or AVX-512 without VNNI) a convolution sums pairs of 8-bit products in 16 bits, which
saturate; with VNNI they are summed in 32 bits; AMX has its own tile kernels. A model's INT8 check
is judged on the machine that builds it. This measures, on one machine, what each class of CPU
would measure, by capping oneDNN (``ONEDNN_MAX_CPU_ISA``, read once when OpenVINO loads, so each cap
runs in its own process). A cap above what the CPU has changes nothing: the table reaches only the
classes this CPU has. Prints one JSON line per cap, then a table; nothing is written.

    python train/int8_by_isa.py --data ../shared/datasets/crack-seg/data.yaml
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as `python train/x.py`

from crackseg.core.errors import CrackSegError  # noqa: E402
from crackseg.core.locations import SHIPPED_MODEL  # noqa: E402

ISA_VARIABLE = "ONEDNN_MAX_CPU_ISA"
UNCAPPED = "native"
DEFAULT_ISAS = ("AVX2", "AVX512_CORE", "AVX2_VNNI", "AVX512_CORE_VNNI", UNCAPPED)
"""Without VNNI (two caps), with VNNI (two caps), and whatever this CPU has (AMX where present)."""


def measure(weights: Path, data: Path, split: str, imgsz: int, precision: str) -> dict[str, float]:
    """Mask mAP of ``weights`` (``fp32``: PyTorch) or of its usable INT8 model (``int8``), as the check validates."""
    from crackseg.inference.backends import load_yolo_unchecked
    from crackseg.inference.int8_lookup import usable_int8_model
    from crackseg.inference.validation import validate_model

    model_path = weights if precision == "fp32" else usable_int8_model(weights)
    metrics = validate_model(load_yolo_unchecked(model_path), data, split, imgsz)
    return {"mask_map50": round(metrics["mask_map50"], 4), "mask_map50_95": round(metrics["mask_map50_95"], 4)}


def measure_in_fresh_process(args: argparse.Namespace, isa: str, precision: str) -> dict[str, float]:
    """``measure`` in a fresh Python whose oneDNN is capped at ``isa`` (``native``: not capped)."""
    environment = {key: value for key, value in os.environ.items() if key != ISA_VARIABLE}
    if isa != UNCAPPED:
        environment[ISA_VARIABLE] = isa
    command = [sys.executable, str(Path(__file__).resolve()), "--weights", str(args.weights), "--data", str(args.data)]
    command += ["--split", args.split, "--imgsz", str(args.imgsz), "--measure", precision]
    done = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"measuring {precision} under {isa} failed:\n{done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", type=Path, default=SHIPPED_MODEL, help="weights whose INT8 model is checked")
    parser.add_argument("--data", type=Path, required=True, help="YOLO data.yaml the check validates on")
    parser.add_argument("--split", default="val", help="the split (default: val, as the check)")
    parser.add_argument("--imgsz", type=int, default=416, help="model input size (default: 416)")
    parser.add_argument("--isa", action="append", help=f"a oneDNN cap, repeatable (default: {', '.join(DEFAULT_ISAS)})")
    parser.add_argument("--measure", choices=("fp32", "int8"), help=argparse.SUPPRESS)  # one measurement, this process
    args = parser.parse_args(argv)
    if args.measure:
        try:
            print(json.dumps(measure(args.weights, args.data, args.split, args.imgsz, args.measure)))
        except CrackSegError as error:  # no usable INT8 model, an unreadable dataset: one line, no traceback
            print(error, file=sys.stderr)
            return 2
        return 0

    fp32 = measure_in_fresh_process(args, UNCAPPED, "fp32")
    rows = []
    for isa in args.isa or DEFAULT_ISAS:
        int8 = measure_in_fresh_process(args, isa, "int8")
        row = {
            "isa": isa,
            "int8_mask_map50": int8["mask_map50"],
            "int8_mask_map50_95": int8["mask_map50_95"],
            "fp32_mask_map50": fp32["mask_map50"],
            "mask_map50_drop": round(fp32["mask_map50"] - int8["mask_map50"], 4),
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
    print(f"\n{'oneDNN ISA':<18} {'INT8 mAP50':>10} {'mAP50-95':>9} {'drop':>8}")
    for row in rows:
        print(
            f"{row['isa']:<18} {row['int8_mask_map50']:>10.4f} {row['int8_mask_map50_95']:>9.4f}"
            f" {row['mask_map50_drop']:>8.4f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
