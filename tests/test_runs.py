"""Reading Ultralytics training histories: real-format CSV text, malformed files, stages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crackseg.core.errors import RunHistoryError
from crackseg.training.runs import (
    RunHistory,
    concat_stages,
    discover_runs,
    load_run,
    long_format,
    read_args_yaml,
    read_results_csv,
    stage_boundaries,
)

# Header and first rows copied from a real Ultralytics 8.4 segmentation run.
SEG_CSV = (
    "epoch,time,train/box_loss,train/seg_loss,train/cls_loss,train/dfl_loss,train/sem_loss,"
    "metrics/precision(B),metrics/recall(B),metrics/mAP50(B),metrics/mAP50-95(B),"
    "metrics/precision(M),metrics/recall(M),metrics/mAP50(M),metrics/mAP50-95(M),"
    "val/box_loss,val/seg_loss,val/cls_loss,val/dfl_loss,val/sem_loss,lr/pg0,lr/pg1,lr/pg2\n"
    "1,715.719,3.85324,3.86989,3.34207,3.61472,0,0.04818,0.07631,0.01325,0.00249,0.04351,0.04418,0.0093,"
    "0.00129,3.52792,2.03212,4.90991,3.18436,0,0.000663805,0.000663805,0.000663805\n"
    "2,1439.5,2.76732,2.18518,2.50179,2.72405,0,0.16747,0.29719,0.09666,0.02232,0.17995,0.31325,0.10704,"
    "0.0218,2.92532,1.54109,2.84835,2.59524,0,0.00119876,0.00119876,0.00119876\n"
    "3,2171.18,2.32546,1.96405,2.08793,2.31802,0,0.23397,0.32932,0.19172,0.04778,0.39685,0.33333,0.28584,"
    "0.08308,2.72823,1.41953,2.53445,2.40541,0,0.00160171,0.00160171,0.00160171\n"
)

# Old (8.0-style) file: names padded with spaces, 0-based epochs, no time column.
PADDED_CSV = (
    "                  epoch,      train/box_loss,      train/seg_loss,   metrics/mAP50(M),     lr/pg0\n"
    "                      0,              1.5000,              2.0000,            0.10000,      0.01\n"
    "                      1,              1.2000,              1.8000,            0.30000,      0.01\n"
    "                      2,              1.1000,              1.7000,            0.20000,      0.01\n"
)

# Detection run: box metrics only.
DETECT_CSV = (
    "epoch,train/box_loss,metrics/mAP50(B),metrics/mAP50-95(B)\n1,2.0,0.10,0.05\n2,1.8,0.40,0.20\n3,1.7,0.35,0.25\n"
)


def _csv(text: str) -> bytes:
    return text.encode()


def test_real_format_is_read_with_numbers_and_global_epoch() -> None:
    table = read_results_csv(_csv(SEG_CSV))
    assert len(table) == 3
    assert table["epoch"].tolist() == [1, 2, 3]
    assert table["global_epoch"].tolist() == [1, 2, 3]
    assert table["metrics/mAP50(M)"].dtype == float
    assert table.loc[2, "metrics/mAP50(M)"] == pytest.approx(0.28584)
    assert "stage" not in table.columns


def test_padded_column_names_are_stripped_and_zero_based_epochs_kept() -> None:
    table = read_results_csv(_csv(PADDED_CSV))
    assert "train/box_loss" in table.columns
    assert "metrics/mAP50(M)" in table.columns
    assert table["epoch"].tolist() == [0, 1, 2]
    assert table["global_epoch"].tolist() == [1, 2, 3]


def test_rows_are_sorted_by_epoch_and_blank_rows_dropped() -> None:
    text = "epoch,train/box_loss\n3,0.3\n,\n1,0.1\n2,0.2\n"
    table = read_results_csv(_csv(text))
    assert table["epoch"].tolist() == [1, 2, 3]
    assert table["train/box_loss"].tolist() == pytest.approx([0.1, 0.2, 0.3])


def test_a_few_bad_cells_become_nan() -> None:
    text = "epoch,train/box_loss,metrics/mAP50(M)\n1,0.5,oops\n2,n/a,0.4\n"
    table = read_results_csv(_csv(text))
    assert len(table) == 2
    assert np.isnan(table.loc[0, "metrics/mAP50(M)"])
    assert np.isnan(table.loc[1, "train/box_loss"])


def test_path_source_is_read(tmp_path: Path) -> None:
    path = tmp_path / "results.csv"
    path.write_text(SEG_CSV)
    assert len(read_results_csv(path)) == 3
    assert len(read_results_csv(str(path))) == 3


@pytest.mark.parametrize(
    ("scenario", "data", "message_part"),
    [
        ("empty", b"", "empty"),
        ("whitespace only", b"  \n\n", "empty"),
        ("binary junk", bytes(range(256)) * 4, "binary"),
        ("invalid utf-8", b"\xff\xfe\xfa\xfbepoch", "UTF-8"),
        ("not csv", b"hello world, this is a letter\nregards\n", "epoch"),
        ("missing epoch column", b"step,train/box_loss\n1,0.5\n", "epoch"),
        ("no metric columns", b"epoch,foo\n1,2\n", "metric"),
        ("text in numbers everywhere", b"epoch,train/box_loss\none,abc\ntwo,def\n", "no rows"),
        ("header only", b"epoch,train/box_loss\n", "no rows"),
    ],
)
def test_malformed_input_raises_one_line_error_naming_source(scenario: str, data: bytes, message_part: str) -> None:
    with pytest.raises(RunHistoryError) as caught:
        read_results_csv(data, name="bad-run/results.csv")
    message = str(caught.value)
    assert "bad-run/results.csv" in message, scenario
    assert message_part in message, scenario
    assert "\n" not in message


def test_missing_file_and_oversized_input_raise(tmp_path: Path) -> None:
    with pytest.raises(RunHistoryError, match="not found"):
        read_results_csv(tmp_path / "nope.csv")
    with pytest.raises(RunHistoryError, match="too large"):
        read_results_csv(b"epoch,train/box_loss\n" + b"1,0.5\n" * 1_000_000)


def test_args_yaml_is_read_safely() -> None:
    assert read_args_yaml(b"task: segment\nepochs: 10\nimgsz: 416\n") == {"task": "segment", "epochs": 10, "imgsz": 416}
    assert read_args_yaml(b"") == {}
    with pytest.raises(RunHistoryError, match="invalid YAML"):
        read_args_yaml(b"task: [unclosed\n")
    with pytest.raises(RunHistoryError, match="mapping"):
        read_args_yaml(b"- a\n- b\n")
    with pytest.raises(RunHistoryError):
        read_args_yaml(b"!!python/object/apply:os.system ['echo hi']\n")


def test_best_epoch_uses_mask_metric_then_box_fallback() -> None:
    seg = RunHistory(name="seg", table=read_results_csv(_csv(SEG_CSV)), args={}, source="x")
    assert seg.best_epoch() == 3
    padded = RunHistory(name="old", table=read_results_csv(_csv(PADDED_CSV)), args={}, source="x")
    assert padded.best_epoch() == 2  # global epoch of file epoch 1
    detect = RunHistory(name="det", table=read_results_csv(_csv(DETECT_CSV)), args={}, source="x")
    assert detect.best_epoch() == 2
    assert detect.best_epoch("metrics/mAP50-95(M)") == 3
    no_metric = RunHistory(name="n", table=read_results_csv(b"epoch,train/box_loss\n1,0.5\n"), args={}, source="x")
    assert no_metric.best_epoch() is None


def test_column_groups_and_summary() -> None:
    history = RunHistory(name="seg", table=read_results_csv(_csv(SEG_CSV)), args={"epochs": 3}, source="x")
    assert "metrics/mAP50(M)" in history.metric_columns
    assert history.loss_columns[0] == "train/box_loss"
    assert "val/sem_loss" in history.loss_columns
    assert history.lr_columns == ["lr/pg0", "lr/pg1", "lr/pg2"]
    summary = history.summary()
    assert summary["epochs"] == 3
    assert summary["best_epoch"] == 3
    assert summary["best_mask_map50"] == pytest.approx(0.28584)
    assert summary["best_box_map50_95"] == pytest.approx(0.04778)
    assert summary["final_losses"]["train/box_loss"] == pytest.approx(2.32546)
    assert summary["wall_time_s"] == pytest.approx(2171.18)

    detect = RunHistory(name="det", table=read_results_csv(_csv(DETECT_CSV)), args={}, source="x")
    assert detect.summary()["best_mask_map50"] is None
    assert detect.summary()["best_metric"] == "metrics/mAP50(B)"
    assert detect.summary()["wall_time_s"] is None


def test_concat_stages_gives_continuous_epochs_cumulative_time_and_boundaries() -> None:
    stage1 = read_results_csv(_csv(SEG_CSV))
    stage2 = read_results_csv(_csv("epoch,time,train/box_loss,metrics/mAP50(M)\n1,100,1.0,0.5\n2,200,0.9,0.6\n"))
    before = stage1.copy()
    table = concat_stages([("scratch", stage1), ("finetune", stage2)])
    assert table["global_epoch"].tolist() == [1, 2, 3, 4, 5]
    assert table["epoch"].tolist() == [1, 2, 3, 1, 2]
    assert table["stage"].tolist() == ["scratch"] * 3 + ["finetune"] * 2
    assert table["time"].tolist() == pytest.approx([715.719, 1439.5, 2171.18, 2271.18, 2371.18])
    assert np.isnan(table.loc[4, "val/box_loss"])  # column absent in stage 2
    assert stage_boundaries(table) == [3.5]
    pd.testing.assert_frame_equal(stage1, before)

    history = RunHistory(name="both", table=table, args={}, source="x")
    assert history.best_epoch() == 5
    assert history.summary()["best_stage"] == "finetune"
    assert history.summary()["best_stage_epoch"] == 2
    assert history.stages == ["scratch", "finetune"]


def test_three_stages_give_two_boundaries() -> None:
    small = read_results_csv(b"epoch,train/box_loss\n1,0.5\n2,0.4\n")
    table = concat_stages([("a", small), ("b", small), ("c", small)])
    assert table["global_epoch"].tolist() == [1, 2, 3, 4, 5, 6]
    assert stage_boundaries(table) == [2.5, 4.5]
    assert stage_boundaries(small) == []
    with pytest.raises(ValueError):
        concat_stages([])


def test_csv_with_stage_column_keeps_stage_and_computes_global_epoch() -> None:
    text = (
        "stage,epoch,time,train/box_loss,metrics/mAP50(M)\n"
        "scratch,1,10,1.0,0.1\n"
        "scratch,2,20,0.9,0.2\n"
        "finetune,1,30,0.8,0.4\n"
        "finetune,2,40,0.7,0.3\n"
    )
    table = read_results_csv(_csv(text))
    assert table["stage"].tolist() == ["scratch", "scratch", "finetune", "finetune"]
    assert table["global_epoch"].tolist() == [1, 2, 3, 4]
    assert stage_boundaries(table) == [2.5]
    round_trip = read_results_csv(
        concat_stages([("s1", table.iloc[:2]), ("s2", table.iloc[2:])]).to_csv(index=False).encode()
    )
    assert round_trip["global_epoch"].tolist() == [1, 2, 3, 4]
    assert round_trip["stage"].tolist() == ["s1", "s1", "s2", "s2"]


def test_long_format_is_tidy() -> None:
    table = concat_stages([("a", read_results_csv(_csv(DETECT_CSV))), ("b", read_results_csv(_csv(DETECT_CSV)))])
    tidy = long_format(table, ["metrics/mAP50(B)", "train/box_loss"])
    assert list(tidy.columns) == ["global_epoch", "stage", "metric", "value"]
    assert len(tidy) == 12
    assert set(tidy["metric"]) == {"metrics/mAP50(B)", "train/box_loss"}
    first = tidy[(tidy["metric"] == "metrics/mAP50(B)") & (tidy["global_epoch"] == 5)]
    assert first["value"].item() == pytest.approx(0.40)
    assert first["stage"].item() == "b"
    with pytest.raises(ValueError, match="unknown"):
        long_format(table, ["nope"])


def test_load_and_discover_runs(tmp_path: Path) -> None:
    good = tmp_path / "segment" / "train"
    good.mkdir(parents=True)
    (good / "results.csv").write_text(SEG_CSV)
    (good / "args.yaml").write_text("task: segment\nepochs: 3\n")
    bad = tmp_path / "broken"
    bad.mkdir()
    (bad / "results.csv").write_bytes(b"\x00\x01junk")
    too_deep = tmp_path / "a" / "b" / "c" / "d" / "e"
    too_deep.mkdir(parents=True)
    (too_deep / "results.csv").write_text(SEG_CSV)

    run = load_run(good)
    assert run.name == "train"
    assert run.args["epochs"] == 3
    assert len(run.table) == 3

    found = discover_runs(tmp_path)
    assert [r.name for r in found.runs] == ["segment/train"]
    assert len(found.errors) == 1
    path, message = found.errors[0]
    assert path == bad / "results.csv"
    assert "binary" in message
    assert discover_runs(tmp_path / "missing").runs == []

    with pytest.raises(RunHistoryError, match="not found"):
        load_run(tmp_path / "missing")
