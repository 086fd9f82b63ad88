"""The datasets a model was trained on and the terms each brings: the card's ``licence.datasets``.

Why: fine-tuned weights carry the terms of every dataset in their lineage. The shipped models began
on crack-seg (AGPL-3.0) and were fine-tuned on DeepCrack (no licence file; its authors ask to be
cited) and on the survey-vehicle frames (MIT; the copyright notice must be kept). So a promotion
adds the datasets of the run's training set to those the card already lists, and never drops one.

A training set's datasets are read from the ``manifest.json`` that ``crackseg.datasets.three_domain``
writes beside its ``data.yaml`` (train images per domain). A training set without a manifest is
recorded by its path with its terms marked as not recorded, so the gap shows on the card instead of
being filled by a guess.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MANIFEST_NAME = "manifest.json"
TRAINING_USE = "training"

# The domains a three-domain build can hold (its manifest's keys), with each dataset's name and terms.
DOMAIN_CREDITS: dict[str, dict[str, str]] = {
    "crack_seg": {"name": "Ultralytics crack-seg (Roboflow)", "licence": "AGPL-3.0"},
    "deepcrack": {
        "name": "DeepCrack (Liu et al., Neurocomputing 338, 2019)",
        "licence": "no licence file; the authors ask to be cited (doi:10.1016/j.neucom.2019.01.036)",
    },
    "survey_vehicle": {
        "name": "Cracks and Potholes in Road Images (Passos et al., 2020)",
        "licence": "MIT, Copyright (c) 2020 Bianka Passos (keep the notice)",
    },
}


def training_credits(data_yaml: Path | None) -> list[dict[str, str]]:
    """The datasets whose images are in ``data_yaml``'s train split, each with its terms and ``use``.

    Read from the build's manifest beside ``data_yaml``; one "not recorded" entry naming the
    training set when there is no readable manifest, or when the run recorded no ``data_yaml``.
    """
    if data_yaml is None:
        return [
            {
                "name": "training set not recorded (the run names no data.yaml)",
                "licence": "not recorded: add its dataset and terms",
                "use": TRAINING_USE,
            }
        ]
    manifest_path = data_yaml.parent / MANIFEST_NAME
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        train_images = manifest["splits"]["train"]["images"]
        domains = [domain for domain, count in train_images.items() if int(count) > 0]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return [
            {
                "name": f"training set {data_yaml}",
                "licence": f"not recorded (no readable {MANIFEST_NAME} beside it): add its dataset and terms",
                "use": TRAINING_USE,
            }
        ]
    credits = []
    for domain in domains:
        known = DOMAIN_CREDITS.get(domain, {"name": domain, "licence": "not recorded: add its terms"})
        credits.append(known | {"use": TRAINING_USE})
    return credits


def _uses(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def merge_credits(recorded: list[dict[str, Any]], added: list[dict[str, str]]) -> list[dict[str, Any]]:
    """``recorded`` with ``added`` joined by dataset name: new datasets appended, new uses added to known ones."""
    merged = [dict(entry) for entry in recorded]
    by_name = {entry.get("name"): entry for entry in merged}
    for credit in added:
        entry = by_name.get(credit["name"])
        if entry is None:
            entry = dict(credit)
            merged.append(entry)
            by_name[credit["name"]] = entry
            continue
        uses = _uses(str(entry.get("use", "")))
        uses += [use for use in _uses(credit.get("use", "")) if use not in uses]
        entry["use"] = ", ".join(uses)
    return merged


def licence_with_training_set(licence: dict[str, Any] | None, data_yaml: Path | None) -> dict[str, Any]:
    """A card's ``licence`` section after training on ``data_yaml``: its datasets joined with the training set's."""
    section = dict(licence or {})
    section["datasets"] = merge_credits(list(section.get("datasets", [])), training_credits(data_yaml))
    section.setdefault("model", "AGPL-3.0")
    section["why"] = (
        "trained with Ultralytics (AGPL-3.0) starting from weights trained on crack-seg (AGPL-3.0), so the "
        "weights and their exports are distributed under AGPL-3.0; every dataset below also binds them "
        "by its own terms"
    )
    section.setdefault("see", "THIRD_PARTY.md")
    return section
