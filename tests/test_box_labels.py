"""Box labels: YOLO boxes and Pascal VOC XML (defusedxml only), malformed files, entity attacks, folder pairing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crackseg.core.errors import CrackSegError, DatasetError
from crackseg.datasets.box_labels import (
    RDD_CLASS_NAMES,
    box_dataset_folders,
    box_label_items,
    parse_voc_boxes,
    parse_yolo_boxes,
)
from crackseg.datasets.opening import open_box_data

RDD = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "rdd2022-streetview-sample"


def _write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


# --- YOLO -------------------------------------------------------------------------------------------------


def test_yolo_boxes_in_pixels_with_rdd_names(tmp_path: Path) -> None:
    label = _write(tmp_path / "a.txt", "1 0.5 0.25 0.5 0.1\n\n3 0.1 0.9 0.4 0.4\n7 0.5 0.5 1 1\n")
    boxes = parse_yolo_boxes(label, (200, 100))
    assert boxes.class_names == ("D10", "D40", "class_7")
    np.testing.assert_allclose(
        boxes.xyxy,
        [[50, 20, 150, 30], [0, 70, 60, 100], [0, 0, 200, 100]],  # the D40 box is clipped at the image edges
    )


def test_the_shared_rdd_labels_read_as_eleven_boxes() -> None:
    if not RDD.is_dir():
        pytest.skip("the shared RDD sample is not here")
    items = box_label_items(RDD / "images", RDD / "labels")
    names = [name for item in items for name in item.boxes((640, 640)).class_names]
    assert len(items) == 10 and len(names) == 11
    assert sorted(set(names)) == sorted(RDD_CLASS_NAMES.values())


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("0 0.5 0.5 0.2", "expected 'class cx cy w h' (5 fields), got 4"),
        ("0 0.1 0.1 0.2 0.2 0.3 0.3", "(5 fields), got 7"),
        ("0 0.5 x 0.2 0.2", "non-numeric value"),
        ("-1 0.5 0.5 0.2 0.2", "class id must be a non-negative integer"),
        ("1.5 0.5 0.5 0.2 0.2", "class id must be a non-negative integer"),
        ("0 1.5 0.5 0.2 0.2", "centre must be in [0, 1]"),
        ("0 0.5 0.5 0 0.2", "size in (0, 1]"),
        ("0 0.5 nan 0.2 0.2", "coordinates must be finite"),
    ],
    ids=["four-fields", "polygon", "text", "negative-class", "fractional-class", "centre-out", "zero-width", "nan"],
)
def test_malformed_yolo_lines_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    label = _write(tmp_path / "bad.txt", f"0 0.5 0.5 0.2 0.2\n{line}\n")
    with pytest.raises(DatasetError) as caught:
        parse_yolo_boxes(label, (100, 100))
    text = str(caught.value)
    assert text.startswith(f"{label}:2: ") and message in text and "\n" not in text


def test_a_binary_or_huge_label_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not UTF-8"):
        parse_yolo_boxes(_write(tmp_path / "bin.txt", b"\xff\xfe\x00"), (10, 10))
    huge = _write(tmp_path / "huge.txt", "0 0.5 0.5 0.1 0.1\n" * 60_000)
    with pytest.raises(DatasetError, match="bytes, more than"):
        parse_yolo_boxes(huge, (10, 10))


# --- Pascal VOC -----------------------------------------------------------------------------------------

VOC = """<?xml version="1.0" encoding="{encoding}"?>
<annotation>
  <filename>x.jpg</filename>
  <size><width>{width}</width><height>{height}</height><depth>3</depth></size>
  <object><name>D00</name><bndbox><xmin>1</xmin><ymin>11</ymin><xmax>10</xmax><ymax>50</ymax></bndbox></object>
  <object><name>D20</name><bndbox><xmin>101</xmin><ymin>51</ymin><xmax>200</xmax><ymax>100</ymax></bndbox></object>
</annotation>
"""


def test_voc_corners_are_one_based_and_inclusive(tmp_path: Path) -> None:
    label = _write(tmp_path / "x.xml", VOC.format(encoding="utf-8", width=200, height=100))
    boxes = parse_voc_boxes(label, (200, 100))
    assert boxes.class_names == ("D00", "D20")
    np.testing.assert_allclose(boxes.xyxy, [[0, 10, 10, 50], [100, 50, 200, 100]])


def test_voc_drawn_on_another_size_scales_to_the_image(tmp_path: Path) -> None:
    label = _write(tmp_path / "x.xml", VOC.format(encoding="utf-8", width=200, height=100))
    np.testing.assert_allclose(parse_voc_boxes(label, (400, 200)).xyxy, [[0, 20, 20, 100], [200, 100, 400, 200]])


def test_voc_in_latin_1_is_read(tmp_path: Path) -> None:
    text = VOC.format(encoding="ISO-8859-1", width=200, height=100).replace("x.jpg", "vég.jpg")
    label = _write(tmp_path / "x.xml", text.encode("latin-1"))
    assert parse_voc_boxes(label, (200, 100)).class_names == ("D00", "D20")


BOMB = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<annotation><object><name>&lol4;</name></object></annotation>
"""
EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE annotation [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<annotation><object><name>&secret;</name>
<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox></object></annotation>
"""
DOCTYPE_ONLY = """<?xml version="1.0"?>
<!DOCTYPE annotation SYSTEM "http://example.invalid/voc.dtd">
<annotation></annotation>
"""


@pytest.mark.parametrize("text", [BOMB, EXTERNAL, DOCTYPE_ONLY], ids=["entity-bomb", "external-entity", "dtd"])
def test_entities_and_dtds_are_refused_in_one_line(tmp_path: Path, text: str) -> None:
    label = _write(tmp_path / "evil.xml", text)
    with pytest.raises(DatasetError) as caught:
        parse_voc_boxes(label, (100, 100))
    message = str(caught.value)
    assert message.startswith(f"{label}: XML with a DTD, entities or external references refused")
    assert "\n" not in message and "root:" not in message and "lol" not in message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("<annotation><object><name>D00</name>", "not well-formed XML"),
        ("<annotation><object><bndbox/></object></annotation>", "object 1 has no <name>"),
        ("<annotation><object><name>D10</name></object></annotation>", "object 1 (D10) has no <bndbox>"),
        (
            "<annotation><object><name>D10</name><bndbox><xmin>a</xmin></bndbox></object></annotation>",
            "needs numeric xmin, ymin, xmax, ymax",
        ),
        (
            "<annotation><object><name>D10</name><bndbox><xmin>9</xmin><ymin>1</ymin><xmax>2</xmax><ymax>5</ymax>"
            "</bndbox></object></annotation>",
            "empty or inverted box",
        ),
    ],
    ids=["unclosed", "no-name", "no-bndbox", "text-corner", "inverted"],
)
def test_malformed_voc_is_one_line(tmp_path: Path, body: str, message: str) -> None:
    label = _write(tmp_path / "bad.xml", body)
    with pytest.raises(DatasetError) as caught:
        parse_voc_boxes(label, (100, 100))
    assert message in str(caught.value) and "\n" not in str(caught.value)


# --- pairing images with label files ---------------------------------------------------------------------


def _dataset(root: Path, label_dir: str = "labels", suffix: str = ".txt") -> Path:
    (root / "images").mkdir(parents=True)
    (root / label_dir).mkdir(parents=True)
    for stem in ("a", "b"):
        _write(root / "images" / f"{stem}.jpg", b"not read here")
    _write(root / label_dir / f"a{suffix}", "0 0.5 0.5 0.2 0.2\n" if suffix == ".txt" else VOC)
    return root


def test_pairing_detects_the_format_and_an_unlabelled_image_has_no_boxes(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "yolo")
    items = box_label_items(*box_dataset_folders(root))
    assert [(item.name, item.box_format, item.label_path is not None) for item in items] == [
        ("a.jpg", "yolo", True),
        ("b.jpg", "yolo", False),
    ]
    assert len(items[1].boxes((10, 10))) == 0
    voc_root = _dataset(tmp_path / "voc", "annotations/xmls", ".xml")
    assert box_dataset_folders(voc_root)[1] == voc_root / "annotations" / "xmls"
    assert box_label_items(*box_dataset_folders(voc_root))[0].box_format == "voc"


def test_pairing_errors_are_one_line(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "mixed")
    _write(root / "labels" / "b.xml", VOC)
    with pytest.raises(DatasetError, match="both .txt and .xml"):
        box_label_items(root / "images", root / "labels")
    assert box_label_items(root / "images", root / "labels", "voc")[1].label_path == root / "labels" / "b.xml"
    with pytest.raises(DatasetError, match="no images/ folder"):
        box_dataset_folders(tmp_path)
    with pytest.raises(DatasetError, match="box format must be one of"):
        box_label_items(root / "images", root / "labels", "coco")


def test_the_app_opens_only_allowed_folders(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "data")
    items = open_box_data(str(root), allowed_roots=[tmp_path / "data"])
    assert [item.name for item in items] == ["a.jpg", "b.jpg"]
    with pytest.raises(CrackSegError, match="outside the allowed data folders"):
        open_box_data(str(root / "images"), "/etc", allowed_roots=[tmp_path / "data"])
