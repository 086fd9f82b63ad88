"""Ground-truth statistics of a split (crackseg.evaluation.dataset_stats) and their histogram builder (ui.plots)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from crackseg.datasets.labelled import LabelledImage, YoloDataset, mask_folder_items
from crackseg.evaluation.dataset_stats import IMAGE_COLUMNS, DatasetStats, dataset_statistics, select_images
from ui.plots import distribution_figure

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"
CRACK_FREE_SAMPLE = "3513.rf.782300f38d0a008b3340e54b643e713e.jpg"


def label_lines(image_path: Path) -> int:
    """Non-empty lines of the sample's label file: the number of truth instances, read independently."""
    label = SAMPLES / "labels" / f"{image_path.stem}.txt"
    return sum(1 for line in label.read_text().splitlines() if line.strip())


@pytest.fixture(scope="module")
def sample_items() -> list[LabelledImage]:
    return YoloDataset.from_yaml(SAMPLES / "data.yaml").items("test")


@pytest.fixture(scope="module")
def sample_stats(sample_items: list[LabelledImage]) -> DatasetStats:
    return dataset_statistics(sample_items)


def copy_samples(tmp_path: Path) -> Path:
    """A writable copy of samples/ (images, labels, data.yaml); returns its data.yaml."""
    target = tmp_path / "data"
    shutil.copytree(SAMPLES, target, ignore=shutil.ignore_patterns("*.cache", "README.md"))
    for path in target.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return target / "data.yaml"


# --- the shipped samples -------------------------------------------------------------------------------------


def test_samples_instances_match_the_label_files(sample_items: list[LabelledImage], sample_stats: DatasetStats) -> None:
    per_image = sample_stats.per_image.set_index("image")
    assert list(sample_stats.per_image.columns) == list(IMAGE_COLUMNS)
    assert len(per_image) == 8 and not sample_stats.failures
    for item in sample_items:
        assert per_image.loc[item.name, "instances"] == label_lines(item.image_path), item.name
    assert (per_image[["width_px", "height_px"]] == 416).all().all()  # the samples are 416x416


def test_the_crack_free_sample_has_no_instances_and_no_area(sample_stats: DatasetStats) -> None:
    row = sample_stats.per_image.set_index("image").loc[CRACK_FREE_SAMPLE]
    assert row["instances"] == 0 and row["crack_area_px2"] == 0 and row["crack_area_pct"] == 0
    assert row["total_length_px"] == 0
    assert CRACK_FREE_SAMPLE not in set(sample_stats.per_instance["image"])


def test_samples_fractions_areas_and_summary_are_consistent(sample_stats: DatasetStats) -> None:
    per_image, per_instance, summary = sample_stats.per_image, sample_stats.per_instance, sample_stats.summary
    assert per_image["crack_area_pct"].between(0, 100).all()
    cracked = per_image[per_image["instances"] > 0]
    assert (cracked["crack_area_px2"] > 0).all()
    np.testing.assert_allclose(per_image["crack_area_pct"], 100 * per_image["crack_area_px2"] / (416 * 416))
    # every truth polygon of the samples is a real crack, so each is measured once, numbered 1..N per image
    ids = per_instance.groupby("image")["crack_id"].apply(list)
    assert {name: ids[name] for name in ids.index} == {
        row.image: list(range(1, row.instances + 1)) for row in cracked.itertuples()
    }
    assert (per_instance["length_px"] > 0).all() and (per_instance["mean_width_px"] > 0).all()
    assert summary["images"] == 8 and summary["listed"] == 8 and summary["failed"] == summary["skipped"] == 0
    assert summary["images_without_cracks"] == 1
    assert summary["instances"] == sum(label_lines(SAMPLES / "images" / name) for name in per_image["image"])


# --- known answers on hand-drawn masks ----------------------------------------------------------------------


def test_hand_drawn_mask_gives_known_counts_and_areas(tmp_path: Path) -> None:
    """A 40x20 image whose mask has a 30x3 bar and a 2x2 blob: 2 instances, 94 px, fraction 94/800."""
    mask = np.zeros((20, 40), np.uint8)
    mask[5:8, 5:35] = 255
    mask[14:16, 30:32] = 255
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    Image.fromarray(np.full((20, 40, 3), 90, np.uint8)).save(tmp_path / "images" / "road.png")
    Image.fromarray(mask).save(tmp_path / "masks" / "road_mask.png")
    Image.fromarray(np.full((20, 40, 3), 90, np.uint8)).save(tmp_path / "images" / "clean.png")
    Image.fromarray(np.zeros((20, 40), np.uint8)).save(tmp_path / "masks" / "clean.png")
    stats = dataset_statistics(mask_folder_items(tmp_path / "images", tmp_path / "masks"))
    rows = stats.per_image.set_index("image")
    assert rows.loc["road.png", ["width_px", "height_px", "instances", "crack_area_px2"]].tolist() == [40, 20, 2, 94]
    assert rows.loc["road.png", "crack_area_pct"] == pytest.approx(100 * 94 / 800)
    assert rows.loc["clean.png", ["instances", "crack_area_px2"]].tolist() == [0, 0]
    bar = stats.per_instance.sort_values("area_px2").iloc[-1]
    assert bar["area_px2"] == 90
    assert 26 <= bar["length_px"] <= 31  # a 30-px bar, give or take its rounded ends
    assert 2 <= bar["mean_width_px"] <= 4  # three pixels thick
    assert stats.summary["images_without_cracks"] == 1 and stats.summary["instances"] == 2


# --- problems are listed, not raised -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("label", "non-numeric"),  # a malformed label line
        ("image", ""),  # image bytes that are not an image
    ],
)
def test_a_broken_image_or_label_is_listed_and_the_rest_counted(tmp_path: Path, damage: str, reason: str) -> None:
    yaml_path = copy_samples(tmp_path)
    items = YoloDataset.from_yaml(yaml_path).items("test")
    broken = next(item for item in items if item.name != CRACK_FREE_SAMPLE)
    if damage == "label":
        broken.label_path.write_text("0 0.1 0.1 0.2 oops 0.3 0.3\n")
    else:
        broken.image_path.write_bytes(b"not a jpeg at all")
    stats = dataset_statistics(items)
    assert len(stats.failures) == 1
    assert stats.failures[0].startswith(broken.name) and reason in stats.failures[0]
    assert "\n" not in stats.failures[0]
    assert len(stats.per_image) == 7 and broken.name not in set(stats.per_image["image"])
    for row in stats.per_image.itertuples():
        assert row.instances == label_lines(SAMPLES / "images" / row.image)
    assert stats.summary["failed"] == 1 and stats.summary["images"] == 7


def test_max_images_reads_only_the_first_and_reports_progress(sample_items: list[LabelledImage]) -> None:
    calls: list[tuple[int, int, str]] = []
    stats = dataset_statistics(sample_items, max_images=3, progress=lambda *call: calls.append(call))
    names = [item.name for item in sample_items[:3]]
    assert list(stats.per_image["image"]) == names
    assert stats.summary["skipped"] == 5 and stats.summary["listed"] == 8
    assert calls == [(0, 3, names[0]), (1, 3, names[1]), (2, 3, names[2]), (3, 3, "")]


@pytest.mark.parametrize("max_images", [0, -1, 2.5, True])
def test_max_images_must_be_a_positive_integer(sample_items: list[LabelledImage], max_images: object) -> None:
    with pytest.raises(ValueError, match="max_images"):
        dataset_statistics(sample_items, max_images=max_images)  # type: ignore[arg-type]


def test_no_items_gives_empty_tables_and_undefined_means() -> None:
    stats = dataset_statistics([])
    assert stats.per_image.empty and stats.per_instance.empty and stats.failures == ()
    assert stats.summary["images"] == 0 and stats.summary["instances"] == 0
    assert stats.summary["instances_per_image_mean"] is None and stats.summary["length_px_median"] is None


# --- gallery selection ---------------------------------------------------------------------------------------

TABLE = pd.DataFrame(
    {
        "image": ["c.jpg", "a.jpg", "d.jpg", "b.jpg"],
        "instances": [2, 0, 5, 2],
        "crack_area_pct": [2.0, 0.0, 10.0, 5.0],
    }
)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]),  # by name
        ({"sort_by": "instances", "descending": True}, ["d.jpg", "b.jpg", "c.jpg", "a.jpg"]),  # ties by name
        ({"sort_by": "crack_area_pct"}, ["a.jpg", "c.jpg", "b.jpg", "d.jpg"]),
        ({"instances": (0, 0)}, ["a.jpg"]),  # crack-free only
        ({"instances": (1, 5), "sort_by": "instances"}, ["b.jpg", "c.jpg", "d.jpg"]),
        ({"crack_area_pct": (2.0, 5.0)}, ["b.jpg", "c.jpg"]),  # closed range
        ({"instances": (3, 4)}, []),
    ],
)
def test_select_images_filters_and_sorts(kwargs: dict, expected: list[str]) -> None:
    assert list(select_images(TABLE, **kwargs)["image"]) == expected


def test_select_images_refuses_an_unknown_column() -> None:
    with pytest.raises(ValueError, match="sort_by"):
        select_images(TABLE, sort_by="width")


# --- histograms -------------------------------------------------------------------------------------------------


def test_discrete_histogram_has_one_bar_per_integer_including_empty_ones() -> None:
    bars = distribution_figure([0, 1, 1, 3], title="Instances", x_title="instances", discrete=True).data[0]
    assert list(bars.x) == [0, 1, 2, 3] and list(bars.y) == [1, 2, 0, 1]
    with pytest.raises(ValueError, match="non-negative integers"):
        distribution_figure([0, 1.5], title="x", x_title="x", discrete=True)


def test_continuous_histogram_counts_every_value_once_and_drops_nan() -> None:
    bars = distribution_figure([0.0, 1.0, 2.0, 3.0, float("nan")], title="Area", x_title="%", bins=3).data[0]
    assert list(bars.y) == [1, 1, 2]  # bins [0, 1), [1, 2), [2, 3]
    np.testing.assert_allclose(bars.x, [0.5, 1.5, 2.5])
    np.testing.assert_allclose(np.asarray(bars.customdata), [[0, 1], [1, 2], [2, 3]])


def test_histogram_without_values_has_no_trace_and_says_so() -> None:
    figure = distribution_figure([], title="Length", x_title="px")
    assert len(figure.data) == 0 and figure.layout.annotations[0].text == "no data"
    assert figure.layout.title.text == "Length"
