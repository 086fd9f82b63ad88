"""Labelled datasets (crackseg.datasets): YOLO labels, data.yaml, image/mask folder pairs, the samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from crackseg.core.errors import DatasetError
from crackseg.datasets.labelled import (
    YoloDataset,
    binary_mask_to_instances,
    iter_items,
    label_path_for,
    mask_folder_items,
    parse_yolo_label,
    polygons_to_masks,
    read_binary_mask,
)

REPO = Path(__file__).resolve().parents[1]
SAMPLES_YAML = REPO / "samples" / "data.yaml"
CRACK_FREE_SAMPLE = "3513.rf.782300f38d0a008b3340e54b643e713e.jpg"

SQUARE = "0 0.25 0.25 0.75 0.25 0.75 0.75 0.25 0.75"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def save_image(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


# --- YOLO label lines ---------------------------------------------------------------------------------------


def test_good_label_file_gives_one_polygon_per_line(tmp_path: Path) -> None:
    label = write(tmp_path / "a.txt", f"{SQUARE}\n\n   \n0 0.1 0.1 0.2 0.1 0.15 0.3\n")
    polygons = parse_yolo_label(label)
    assert len(polygons) == 2
    np.testing.assert_allclose(polygons[0], [[0.25, 0.25], [0.75, 0.25], [0.75, 0.75], [0.25, 0.75]])
    assert polygons[1].shape == (3, 2)


def test_empty_label_file_means_no_cracks(tmp_path: Path) -> None:
    assert parse_yolo_label(write(tmp_path / "empty.txt", "")) == []


def test_coordinates_just_outside_the_unit_square_are_clipped(tmp_path: Path) -> None:
    [polygon] = parse_yolo_label(write(tmp_path / "edge.txt", "0 -0.005 0 1.005 0 1 1\n"))
    assert polygon.min() == 0.0 and polygon.max() == 1.0


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("0 0.1 0.2 crack 0.3 0.4 0.5", "non-numeric"),
        ("0 0.1 0.2 0.3 0.4 0.5 0.6 0.7", "7 coordinates"),  # odd count
        ("0 0.5 0.5 0.2 0.1", "box label"),  # detection box, not a polygon
        ("0 0.1 0.2 0.3 0.4", "box label"),
        ("0 0.1 0.1 0.2 0.2", "box label"),
        ("0 0.1 0.1", "2 coordinates"),  # fewer than 3 points
        ("0 0.1 0.1 1.5 0.1 0.5 0.9", "normalised"),  # pixel coordinates or out of range
        ("0 0.1 0.1 nan 0.1 0.5 0.9", "normalised"),
        ("1.5 0.1 0.1 0.5 0.1 0.5 0.9", "class id"),
        ("-1 0.1 0.1 0.5 0.1 0.5 0.9", "class id"),
        ("nan 0.1 0.1 0.5 0.1 0.5 0.9", "class id"),
        ("inf 0.1 0.1 0.5 0.1 0.5 0.9", "class id"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path: Path, line: str, reason: str) -> None:
    label = write(tmp_path / "bad.txt", f"{SQUARE}\n\n{line}\n{SQUARE}\n")
    with pytest.raises(DatasetError) as caught:
        parse_yolo_label(label)
    message = str(caught.value)
    assert message.startswith(f"{label}:3: ") and reason in message and "\n" not in message


def test_missing_and_unreadable_label_files(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="label file not found"):
        parse_yolo_label(tmp_path / "none.txt")
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00\x81garbage")
    with pytest.raises(DatasetError, match="cannot read label file"):
        parse_yolo_label(binary)


# --- rasterising polygons ---------------------------------------------------------------------------------


@pytest.mark.parametrize("resolution_wh", [(100, 100), (200, 80), (64, 256)])
def test_square_polygon_has_the_expected_area_and_place(resolution_wh: tuple[int, int]) -> None:
    width, height = resolution_wh
    polygon = np.array([[0.25, 0.25], [0.75, 0.25], [0.75, 0.75], [0.25, 0.75]])
    masks = polygons_to_masks([polygon], resolution_wh)
    assert masks.shape == (1, height, width) and masks.dtype == bool
    true_area = (width / 2) * (height / 2)
    perimeter = width + height
    assert abs(int(masks[0].sum()) - true_area) <= perimeter
    rows, cols = np.nonzero(masks[0])
    assert abs(rows.mean() - (height - 1) / 2) <= 1 and abs(cols.mean() - (width - 1) / 2) <= 1
    assert rows.min() >= height // 4 - 1 and rows.max() <= 3 * height // 4


def test_triangle_area_and_separate_instances() -> None:
    triangle = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    small = np.array([[0.8, 0.8], [0.9, 0.8], [0.9, 0.9], [0.8, 0.9]])
    masks = polygons_to_masks([triangle, small], (120, 120))
    assert masks.shape == (2, 120, 120)
    assert abs(int(masks[0].sum()) - 120 * 120 / 2) <= 2 * 120
    assert abs(int(masks[1].sum()) - 12 * 12) <= 4 * 12
    assert not (masks[0] & masks[1]).any()


def test_no_polygons_gives_no_masks() -> None:
    assert polygons_to_masks([], (30, 20)).shape == (0, 20, 30)


# --- data.yaml ----------------------------------------------------------------------------------------------


def make_yolo_tree(root: Path, splits: tuple[str, ...] = ("train", "valid", "test")) -> None:
    for split in splits:
        image = np.zeros((40, 40, 3), dtype=np.uint8)
        save_image(root / split / "images" / f"{split}1.png", image)
        write(root / split / "labels" / f"{split}1.txt", SQUARE + "\n")


@pytest.mark.parametrize(
    "path_line",
    [
        "",  # no `path:`: splits relative to the data.yaml's folder
        "path: .\n",
        "path: data\n",  # relative `path:` against the data.yaml's folder
        "path: {absolute}\n",
    ],
)
def test_data_yaml_resolution(tmp_path: Path, path_line: str) -> None:
    root = tmp_path if path_line in ("", "path: .\n") else tmp_path / "data"
    make_yolo_tree(root)
    yaml_path = write(
        tmp_path / "data.yaml",
        path_line.format(absolute=root) + "train: train/images\nval: valid/images\ntest: test/images\nnames: [crack]\n",
    )
    dataset = YoloDataset.from_yaml(yaml_path)
    assert dataset.root == root.resolve() and dataset.class_names == {0: "crack"}
    assert dataset.images_dir("valid") == root.resolve() / "valid" / "images"  # `valid` is an alias of `val`
    items = dataset.items("test")
    assert [i.name for i in items] == ["test1.png"]
    assert items[0].label_path == root.resolve() / "test" / "labels" / "test1.txt"


def test_image_without_label_file_has_no_cracks(tmp_path: Path) -> None:
    make_yolo_tree(tmp_path, ("test",))
    save_image(tmp_path / "test" / "images" / "clean.png", np.zeros((40, 40, 3), dtype=np.uint8))
    yaml_path = write(tmp_path / "data.yaml", "train: test/images\nval: test/images\ntest: test/images\n")
    items = YoloDataset.from_yaml(yaml_path).items("test")
    counts = {item.name: len(truth) for item, _, truth in iter_items(items)}
    assert counts == {"clean.png": 0, "test1.png": 1}


@pytest.mark.parametrize(
    ("yaml_text", "split", "expected"),
    [
        ("train: train/images\nval: valid/images\n", "test", "no 'test' split (has train, val)"),
        ("train: train/images\nval: valid/images\ntest: nowhere/images\n", "test", "split folder"),
        ("train: train/images\nval: empty\ntest: test/images\n", "val", "no images in the 'val' split"),
    ],
)
def test_split_problems(tmp_path: Path, yaml_text: str, split: str, expected: str) -> None:
    make_yolo_tree(tmp_path)
    (tmp_path / "empty").mkdir()
    dataset = YoloDataset.from_yaml(write(tmp_path / "data.yaml", yaml_text))
    with pytest.raises(DatasetError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        dataset.items(split)


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        (None, "data.yaml not found"),
        ("train: [unclosed\n", "not valid YAML"),
        ("- just\n- a list\n", "expected a mapping"),
        ("names: [crack]\n", "no train/val/test split paths"),
        ("train: a\nnames: {crack: 0}\n", "'names' must be"),
        ("train: a\nnames: crack\n", "'names' must be"),
    ],
)
def test_bad_data_yaml(tmp_path: Path, yaml_text: str | None, expected: str) -> None:
    yaml_path = tmp_path / "data.yaml"
    if yaml_text is not None:
        yaml_path.write_text(yaml_text)
    with pytest.raises(DatasetError, match=expected):
        YoloDataset.from_yaml(yaml_path)


def test_names_as_mapping(tmp_path: Path) -> None:
    yaml_path = write(tmp_path / "data.yaml", "train: a\nnames:\n  0: crack\n  1: pothole\n")
    assert YoloDataset.from_yaml(yaml_path).class_names == {0: "crack", 1: "pothole"}


@pytest.mark.parametrize(
    ("image", "label"),
    [
        ("d/train/images/x.jpg", "d/train/labels/x.txt"),
        ("images/train/x.png", "labels/train/x.txt"),
        ("images/a/images/x.jpeg", "images/a/labels/x.txt"),  # the last `images` folder is replaced
    ],
)
def test_label_path_convention(image: str, label: str) -> None:
    assert label_path_for(Path(image)) == Path(label)


# --- image / mask folder pairs ---------------------------------------------------------------------------


def test_masks_pair_by_stem_with_suffixes(tmp_path: Path) -> None:
    images, masks = tmp_path / "images", tmp_path / "masks"
    mask = np.zeros((40, 50), dtype=np.uint8)
    mask[10:20, 5:45] = 255
    for stem, mask_name in (("001", "001_mask.png"), ("002", "002.bmp"), ("003", "003_label.png")):
        save_image(images / f"{stem}.jpg", np.zeros((40, 50, 3), dtype=np.uint8))
        save_image(masks / mask_name, mask)
    items = mask_folder_items(images, masks)
    assert [(i.name, i.mask_path.name) for i in items] == [
        ("001.jpg", "001_mask.png"),
        ("002.jpg", "002.bmp"),
        ("003.jpg", "003_label.png"),
    ]
    truth = items[0].truth_masks((50, 40))
    assert truth.shape == (1, 40, 50) and int(truth.sum()) == 10 * 40


def test_missing_mask_names_the_image(tmp_path: Path) -> None:
    save_image(tmp_path / "images" / "a.png", np.zeros((20, 20, 3), dtype=np.uint8))
    save_image(tmp_path / "images" / "b.png", np.zeros((20, 20, 3), dtype=np.uint8))
    save_image(tmp_path / "masks" / "a_mask.png", np.zeros((20, 20), dtype=np.uint8))
    with pytest.raises(DatasetError, match=r"b\.png: no mask with stem 'b'"):
        mask_folder_items(tmp_path / "images", tmp_path / "masks")


def test_mask_folder_problems(tmp_path: Path) -> None:
    (tmp_path / "no_images").mkdir()
    with pytest.raises(DatasetError, match="folder not found"):
        mask_folder_items(tmp_path / "missing", tmp_path / "masks")
    with pytest.raises(DatasetError, match="no images"):
        mask_folder_items(tmp_path / "no_images", tmp_path / "masks")
    save_image(tmp_path / "images" / "a.png", np.zeros((20, 20, 3), dtype=np.uint8))
    with pytest.raises(DatasetError, match="masks: folder not found"):
        mask_folder_items(tmp_path / "images", tmp_path / "masks")


def test_mask_size_mismatch_names_both_sizes(tmp_path: Path) -> None:
    save_image(tmp_path / "images" / "a.png", np.zeros((30, 40, 3), dtype=np.uint8))
    save_image(tmp_path / "masks" / "a.png", np.zeros((30, 41), dtype=np.uint8))
    [item] = mask_folder_items(tmp_path / "images", tmp_path / "masks")
    with pytest.raises(DatasetError, match=r"a\.png: mask is 41x30 but its image is 40x30"):
        list(iter_items([item]))


@pytest.mark.parametrize(
    ("values", "fmt"),
    [((0, 255), "PNG"), ((0, 1), "PNG"), ((0, 255), "JPEG")],  # 0/1 masks are common in public benchmarks
)
def test_binary_mask_conventions(tmp_path: Path, values: tuple[int, int], fmt: str) -> None:
    mask = np.full((40, 40), values[0], dtype=np.uint8)
    mask[8:32, 16:24] = values[1]
    path = tmp_path / f"m.{fmt.lower()}"
    Image.fromarray(mask).save(path, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    read = read_binary_mask(path, (40, 40))
    assert read.dtype == bool and abs(int(read.sum()) - 24 * 8) <= 8
    assert read[20, 20] and not read[5, 5]


def test_all_black_mask_has_no_crack(tmp_path: Path) -> None:
    path = save_image(tmp_path / "m.png", np.zeros((20, 20), dtype=np.uint8))
    assert not read_binary_mask(path).any()
    assert binary_mask_to_instances(read_binary_mask(path)).shape == (0, 20, 20)


def test_unreadable_mask_is_a_dataset_error(tmp_path: Path) -> None:
    path = write(tmp_path / "m.png", "not a png")
    with pytest.raises(DatasetError, match=r"m\.png: mask m\.png: not an image"):
        read_binary_mask(path)


def test_instances_are_8_connected_components() -> None:
    mask = np.zeros((10, 10), dtype=bool)
    mask[1, 1] = mask[2, 2] = True  # diagonal neighbours: one crack
    mask[6:8, 6:9] = True
    instances = binary_mask_to_instances(mask)
    assert instances.shape == (2, 10, 10)
    assert sorted(int(i.sum()) for i in instances) == [2, 6]
    np.testing.assert_array_equal(instances.any(axis=0), mask)


# --- the shipped samples ------------------------------------------------------------------------------------


def test_samples_are_a_yolo_dataset_with_a_crack_free_image() -> None:
    items = YoloDataset.from_yaml(SAMPLES_YAML).items("test")
    assert len(items) == 8 and all(item.label_path is not None for item in items)
    counts = {item.name: len(truth) for item, _, truth in iter_items(items)}
    assert counts[CRACK_FREE_SAMPLE] == 0
    assert all(count >= 1 for name, count in counts.items() if name != CRACK_FREE_SAMPLE)
    for item in items:
        lines = [line for line in item.label_path.read_text().splitlines() if line.strip()]
        assert counts[item.name] == len(lines)
