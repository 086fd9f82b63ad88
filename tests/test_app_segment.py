"""The Segment page under AppTest, on the shipped model and the shipped sample images.

Samples 2222 (4 labelled cracks) and 2275 (1) are clearly cracked road photos, found with
confidence well above 0.25 by every model shipped so far (1616's crack sits near 0.25, so it is not used);
widths are checked against what a road crack in a 416 px photo can be (a few
px, never a fifth of the image), lengths only for being positive.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from crackseg.inference.segmenter import Segmenter

PAGE = Path(__file__).resolve().parents[1] / "app_pages" / "segment.py"
CRACKED = "2222.rf.bfd72b1a6235ed53983e11289c619b4e.jpg"
CRACKED_TOO = "2275.rf.586655e669fa91476d091094ff24d359.jpg"

pytestmark = pytest.mark.usefixtures("app_env")


def page() -> AppTest:
    return AppTest.from_file(str(PAGE), default_timeout=120)


def crack_table(at: AppTest) -> pd.DataFrame:
    """The per-crack table (the one with a length column); fails the test when it is not shown."""
    tables = [frame.value for frame in at.dataframe if "length_px" in frame.value.columns]
    assert len(tables) == 1, f"expected one crack table, got {len(tables)}"
    return tables[0]


def metric(at: AppTest, label: str) -> str:
    return next(tile.value for tile in at.metric if tile.label == label)


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [element.value for element in at.exception]
    assert not at.error, [element.value for element in at.error]


def test_without_input_the_page_asks_for_images():
    at = page().run()
    assert_clean(at)
    assert any("Upload" in element.value for element in at.info)
    assert not at.dataframe


@pytest.mark.parametrize("sample", [CRACKED, CRACKED_TOO])
def test_a_cracked_sample_gives_measured_cracks(sample):
    at = page()
    at.session_state["segment_samples"] = [sample]
    at.run()
    assert_clean(at)
    table = crack_table(at)
    assert len(table) >= 1
    assert (table["length_px"] > 0).all()
    assert ((table["mean_width_px"] > 0) & (table["mean_width_px"] < 100)).all()
    assert (table["max_width_px"] >= table["mean_width_px"]).all()
    assert "length_mm" not in table.columns  # uncalibrated: the empty mm columns are not shown
    assert int(metric(at, "Cracks")) == len(table)
    assert [element.value for element in at.subheader][0] == sample


def test_a_non_image_is_named_and_the_good_image_in_the_batch_is_still_measured(samples_dir):
    at = page().run()
    at.file_uploader(key="segment_uploads").set_value(
        [
            ("x.jpg", b"this is a text file, not a photo", "image/jpeg"),
            ("road.jpg", (samples_dir / CRACKED).read_bytes(), "image/jpeg"),
        ]
    )
    at.run()
    assert not at.exception
    messages = [element.value for element in at.error]
    assert len(messages) == 1
    assert "x.jpg" in messages[0] and "not an image" in messages[0]
    assert "road.jpg" not in messages[0]
    assert len(crack_table(at)) >= 1
    assert [element.value for element in at.subheader][0] == "road.jpg"


def test_a_zip_upload_opens_into_a_batch_with_a_summary_and_a_picker(samples_dir):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("street/a.jpg", (samples_dir / CRACKED).read_bytes())
        handle.writestr("street/b.jpg", (samples_dir / CRACKED_TOO).read_bytes())
        handle.writestr("notes.txt", b"not an image")
    at = page().run()
    at.file_uploader(key="segment_uploads").set_value(("survey.zip", archive.getvalue(), "application/zip"))
    at.run()
    assert_clean(at)  # notes.txt is not an image member: skipped, not an error
    summary = next(frame.value for frame in at.dataframe if "image" in frame.value.columns)
    assert list(summary["image"]) == ["survey.zip/street/a.jpg", "survey.zip/street/b.jpg"]
    assert (summary["crack_count"] >= 1).all()
    assert at.subheader[1].value == "survey.zip/street/a.jpg"
    assert any(button.label.startswith("Download everything (ZIP, 2 images)") for button in at.get("download_button"))

    at.selectbox(key="segment_shown").select_index(1).run()
    assert at.subheader[1].value == "survey.zip/street/b.jpg"

    at.session_state["segment_summary_table"] = {"selection": {"rows": [0], "columns": []}}
    at.run()
    assert at.subheader[1].value == "survey.zip/street/a.jpg", "clicking a summary row opens that image"


def test_calibration_turns_pixel_widths_into_millimetres():
    at = page()
    at.session_state["segment_samples"] = [CRACKED]
    at.run()
    at.checkbox(key="segment_calibrated").check().run()
    at.number_input(key="segment_mmpx").set_value(2.0).run()
    assert_clean(at)
    table = crack_table(at)
    # px values are kept to 0.01 as mm are: at 2 mm/px the two agree within 2 x 0.005 + 0.005
    assert (table["mean_width_mm"] - 2.0 * table["mean_width_px"]).abs().max() <= 0.016
    assert (table["length_mm"] - 2.0 * table["length_px"]).abs().max() <= 0.016
    assert set(table["severity"]) <= {"low", "medium", "high"}


def test_drawing_controls_do_not_rerun_the_model_but_thresholds_do(monkeypatch):
    calls = []
    original = Segmenter.predict

    def counting_predict(self, rgb, settings=None):
        calls.append(settings)
        return original(self, rgb, settings)

    monkeypatch.setattr(Segmenter, "predict", counting_predict)
    at = page()
    at.session_state["segment_samples"] = [CRACKED]
    at.run()
    assert len(calls) == 1
    rows = len(crack_table(at))

    at.slider(key="segment_alpha").set_value(0.9)
    at.toggle(key="segment_show_boxes").set_value(False)
    at.toggle(key="segment_show_ids").set_value(False)
    at.run()
    assert_clean(at)
    assert len(calls) == 1, "opacity, boxes and ids only redraw"
    assert len(crack_table(at)) == rows

    at.slider(key="segment_conf").set_value(0.5).run()
    assert len(calls) == 2, "a new confidence threshold runs the model again"
    assert calls[-1].conf == 0.5


def test_the_mirror_pass_reaches_the_model_and_keeps_every_crack(monkeypatch):
    calls = []
    original = Segmenter.predict

    def recording_predict(self, rgb, settings=None):
        prediction = original(self, rgb, settings)
        calls.append((settings, prediction.union_mask))
        return prediction

    monkeypatch.setattr(Segmenter, "predict", recording_predict)
    at = page()
    at.session_state["segment_samples"] = [CRACKED]
    at.run()
    at.checkbox(key="segment_flip_tta").check().run()
    assert_clean(at)
    assert len(calls) == 2, "the mirror pass runs the model again"
    (plain, plain_mask), (mirrored, mirrored_mask) = calls
    assert plain.flip_tta is False and mirrored.flip_tta is True
    assert not (plain_mask & ~mirrored_mask).any(), "every crack pixel of one pass is kept"
    assert mirrored_mask.sum() > plain_mask.sum()


def test_per_image_downloads_are_offered():
    at = page()
    at.session_state["segment_samples"] = [CRACKED]
    at.run()
    labels = [button.label for button in at.get("download_button")]
    assert labels == ["Overlay (JPEG)", "Mask (PNG)", "Cracks (CSV)", "Measurements (JSON)", "Report (HTML)"]


# --------------------------------------------------------------------------- street view


def street_frame_png(samples_dir: Path) -> bytes:
    """A 1024x640 frame of the survey vehicle's camera looking at a road paved with the cracked sample photo.

    The sample (a top-down close-up) is laid on the road region, so the street pipeline's top view gives
    the model back a photo like those it was trained on.
    """
    import cv2
    import numpy as np
    from synthetic_road import RoadTexture, render_frame

    from crackseg.geometry.camera import load_profile
    from crackseg.geometry.ground import GroundView

    profile = load_profile(SHIPPED_PROFILE)
    view = GroundView.for_frame(profile, profile.image_wh)
    (left, right), (near, far) = view.region.lateral_m, view.region.forward_m
    tile = cv2.cvtColor(cv2.imread(str(samples_dir / CRACKED)), cv2.COLOR_BGR2RGB)
    mm_per_px = (right - left) * 1000 / tile.shape[1]
    repeats = int(np.ceil((far - near) * 1000 / mm_per_px / tile.shape[0]))
    rgb = np.concatenate([tile] * repeats, axis=0)
    texture = RoadTexture(rgb, mm_per_px, (left, right), (far - rgb.shape[0] * mm_per_px / 1000, far))
    frame = render_frame(texture, view)
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    assert ok
    return encoded.tobytes()


SHIPPED_PROFILE = Path(__file__).resolve().parents[1] / "profiles" / "survey-vehicle-br.json"


def image_captions(at: AppTest) -> list[str]:
    return [image.caption for element in at.get("image") for image in element.proto.imgs]


def street_page(frame: bytes) -> AppTest:
    at = page()
    at.session_state["segment_view"] = "street"
    at.run()
    at.file_uploader(key="segment_uploads").set_value(("dashcam.png", frame, "image/png"))
    at.run()
    return at


def test_street_view_previews_the_region_and_locates_cracks_on_the_road(samples_dir):
    at = street_page(street_frame_png(samples_dir))
    assert_clean(at)
    from crackseg.inference.model_loading import view_conf

    expected_conf = view_conf("street")  # the street model's card, chosen on the survey val frames
    assert at.slider(key="segment_street_conf").value == pytest.approx(expected_conf), "the default is the card's"
    at.selectbox(key="segment_camera_shipped").select("survey-vehicle-br").run()
    assert_clean(at)
    captions = image_captions(at)
    assert "Region on the frame (1024x640)" in captions, "the shipped profile is for this frame size: no rescaling"
    assert "Top view (380x1463 px at 10 mm/px)" in captions
    table = crack_table(at)
    assert len(table) >= 1
    assert {"lateral_m", "forward_m", "length_mm", "max_width_mm"} <= set(table.columns)
    assert table["lateral_m"].between(-1.9, 1.9).all()
    assert table["forward_m"].between(2.4, 17.1).all()
    resolution = next(frame.value for frame in at.dataframe if "across_mm_per_px" in frame.value.columns)
    assert (resolution["along_mm_per_px"] > 0).all()
    labels = [button.label for button in at.get("download_button")]
    assert "Top view (JPEG)" in labels


def test_street_view_with_four_points_and_a_bad_uploaded_profile(samples_dir):
    at = street_page(street_frame_png(samples_dir))
    at.radio(key="segment_camera_source").set_value("points").run()
    assert_clean(at)
    assert at.number_input(key="segment_pt0_phone-dashcam-default_1024x640_x").value != 0
    assert any(caption.startswith("Region on the frame (1024x640)") for caption in image_captions(at))

    at.radio(key="segment_camera_source").set_value("upload").run()
    at.file_uploader(key="segment_camera_upload").set_value(("cam.json", b'{"name": "x", "height_m": 0}', "a/json"))
    at.run()
    assert not at.exception
    assert len(at.error) == 1 and at.error[0].value.startswith("cam.json:"), [e.value for e in at.error]
    assert not at.dataframe, "nothing is inspected with a broken profile"

    at.file_uploader(key="segment_camera_upload").set_value(("cam.json", b"{not json", "application/json")).run()
    assert not at.exception
    assert "not valid JSON" in at.error[0].value


def test_the_street_view_starts_at_its_model_cards_input_size_and_top_down_keeps_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A street model trained and gated at 512 px runs at 512 in the street view; the top-down view stays at 416."""
    import json

    import crackseg.inference.model_loading as model_loading

    weights = tmp_path / "street" / "best.pt"
    weights.parent.mkdir()
    weights.write_bytes(b"street weights")
    (weights.parent / "card.json").write_text(json.dumps({"views": {"street": {"conf": 0.07, "imgsz": 512}}}))
    monkeypatch.delenv("CRACKSEG_STREET_MODEL", raising=False)
    monkeypatch.setattr(model_loading, "STREET_MODEL", weights)
    monkeypatch.setattr(model_loading, "STREET_MODEL_CARD", weights.parent / "card.json")
    at = page()
    at.session_state["segment_view"] = "street"
    at.run()
    assert_clean(at)
    assert at.select_slider(key="segment_street_imgsz").value == 512
    assert at.slider(key="segment_street_conf").value == pytest.approx(0.07)
    at.session_state["segment_view"] = "top-down"
    at.run()
    assert_clean(at)
    assert at.select_slider(key="segment_imgsz").value == 416


def test_the_top_down_view_starts_at_its_model_cards_conf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A top-down model whose gate chose conf 0.15 on val starts the Segment page's slider there."""
    import json

    import crackseg.inference.model_loading as model_loading

    card = tmp_path / "card.json"
    card.write_text(json.dumps({"views": {"top-down": {"conf": 0.15}, "street": {"conf": 0.07}}}))
    monkeypatch.delenv("CRACKSEG_MODEL", raising=False)
    monkeypatch.setattr(model_loading, "MODEL_CARD", card)
    at = page()
    at.run()
    assert_clean(at)
    assert at.slider(key="segment_conf").value == pytest.approx(0.15)
    card.write_text(json.dumps({"views": {"street": {"conf": 0.07}}}))  # a card from before the choice
    fresh = page()
    fresh.run()
    assert_clean(fresh)
    assert fresh.slider(key="segment_conf").value == pytest.approx(0.25)
