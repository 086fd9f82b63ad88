"""Training curves: the shipped model's history, Ultralytics runs under ``runs/``, or an uploaded results.csv."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from crackseg.core.errors import RunHistoryError
from crackseg.core.locations import PROJECT_ROOT
from crackseg.training.model_card import HISTORY_CSV
from crackseg.training.runs import DiscoveryResult, RunHistory, discover_runs, load_run, read_results_csv
from ui.plots import history_figure

RUNS_DIR = PROJECT_ROOT / "runs"
SHIPPED_NAME = "shipped model"
UPLOAD_PREFIX = "upload: "
LOSS_KINDS = ("box", "seg", "cls", "dfl")
METRIC_KINDS = (("precision", "Precision"), ("recall", "Recall"), ("mAP50", "mAP50"), ("mAP50-95", "mAP50-95"))


@st.cache_data(ttl=60, show_spinner=False)
def _shipped_history(modified_ns: int) -> RunHistory:
    """The shipped model's history (keyed on the file's modification time)."""
    del modified_ns  # cache key only
    return load_run(HISTORY_CSV, name=SHIPPED_NAME)


@st.cache_data(ttl=60, show_spinner=False)
def _discovered() -> DiscoveryResult:
    """Ultralytics run folders under ``runs/`` (re-read at most once a minute)."""
    return discover_runs(RUNS_DIR)


def _available_runs() -> list[RunHistory]:
    """Every history the page can show; problems become warnings or errors, never tracebacks."""
    runs: list[RunHistory] = []
    try:
        runs.append(_shipped_history(HISTORY_CSV.stat().st_mtime_ns))
    except (OSError, RunHistoryError) as error:
        st.warning(f"The shipped model's history cannot be shown: {error}")
    found = _discovered()
    runs.extend(found.runs)
    if found.errors:
        with st.expander(f"{len(found.errors)} run folder(s) under runs/ could not be read"):
            for _, message in found.errors:
                st.write(message)
    upload = st.file_uploader("Add a results.csv from another run", type=["csv"], key="train_upload")
    if upload is not None:
        try:
            table = read_results_csv(upload.getvalue(), name=upload.name)
        except RunHistoryError as error:
            st.error(str(error))
        else:
            runs.append(RunHistory(name=f"{UPLOAD_PREFIX}{upload.name}", table=table, source=upload.name))
    return runs


def _keep_selection_valid(names: list[str]) -> None:
    """Default to the first run, drop runs that vanished, and select a newly uploaded run (before the widget)."""
    selected = [name for name in st.session_state.get("train_runs", names[:1]) if name in names]
    uploads = [name for name in names if name.startswith(UPLOAD_PREFIX)]
    if uploads and st.session_state.get("train_last_upload") != uploads[-1]:
        st.session_state["train_last_upload"] = uploads[-1]
        selected = [*selected, uploads[-1]]
    st.session_state["train_runs"] = selected


def _figure_grid(runs: list[RunHistory], panels: list[tuple[str, list[str], str]], *, log_y: bool, key: str) -> None:
    """Two charts per row; a panel no selected run has data for says so instead."""
    for start in range(0, len(panels), 2):
        for offset, column in enumerate(st.columns(2)):
            if start + offset >= len(panels):
                break
            title, columns, y_title = panels[start + offset]
            figure = history_figure(runs, columns, title=title, y_title=y_title, log_y=log_y)
            with column:
                if figure.data:
                    st.plotly_chart(figure, key=f"{key}_{start + offset}")
                else:
                    st.info(f"{title}: no data in the selected runs.")


def _summary_table(runs: list[RunHistory]) -> pd.DataFrame:
    rows = []
    for run in runs:
        summary = run.summary()
        wall_time_s = summary["wall_time_s"]
        rows.append(
            {
                "run": summary["name"],
                "epochs": summary["epochs"],
                "stages": ", ".join(summary["stages"]) or "–",
                "best epoch": summary["best_epoch"],
                "best at (stage: epoch)": (
                    f"{summary['best_stage']}: {summary['best_stage_epoch']}" if summary["best_stage"] else "–"
                ),
                "mask mAP50": summary["best_mask_map50"],
                "mask mAP50-95": summary["best_mask_map50_95"],
                "box mAP50": summary["best_box_map50"],
                "box mAP50-95": summary["best_box_map50_95"],
                "wall time (h)": None if wall_time_s is None else wall_time_s / 3600,
            }
        )
    return pd.DataFrame(rows)


def run() -> None:
    st.title("Training curves")
    st.caption(
        "Losses, validation metrics and learning rate per epoch. Multi-stage histories (training from scratch, then "
        "fine-tunes) run on one continuous epoch axis; grey dotted lines mark stage changes, coloured dash-dot lines "
        "each run's best epoch (by mask mAP50)."
    )
    runs = _available_runs()
    if not runs:
        st.info("No training history found: model/results.csv is missing and runs/ holds no results.csv.")
        st.stop()
    names = [history.name for history in runs]
    _keep_selection_valid(names)
    selected = st.multiselect("Runs to overlay", names, key="train_runs")
    chosen = [history for history in runs if history.name in selected]
    if not chosen:
        st.info("Choose at least one run.")
        st.stop()

    losses, metrics, learning_rate, summary = st.tabs(["Losses", "Validation metrics", "Learning rate", "Summary"])
    with losses:
        log_y = st.toggle("Logarithmic loss axis", value=False, key="train_log_loss")
        panels = [
            (f"{kind} loss (train solid, val dashed)", [f"train/{kind}_loss", f"val/{kind}_loss"], "loss")
            for kind in LOSS_KINDS
        ]
        _figure_grid(chosen, panels, log_y=log_y, key="train_loss")
    with metrics:
        panels = [
            (f"{label} (mask M solid, box B dashed)", [f"metrics/{kind}(M)", f"metrics/{kind}(B)"], label)
            for kind, label in METRIC_KINDS
        ]
        _figure_grid(chosen, panels, log_y=False, key="train_metric")
    with learning_rate:
        lr_columns = sorted({column for history in chosen for column in history.lr_columns})
        figure = history_figure(chosen, lr_columns, title="Learning rate per parameter group", y_title="learning rate")
        st.plotly_chart(figure, key="train_lr")
    with summary:
        st.dataframe(
            _summary_table(chosen),
            hide_index=True,
            column_config={
                name: st.column_config.NumberColumn(name, format="%.3f")
                for name in ("mask mAP50", "mask mAP50-95", "box mAP50", "box mAP50-95")
            }
            | {"wall time (h)": st.column_config.NumberColumn("wall time (h)", format="%.2f")},
            key="train_summary",
        )
        for history in chosen:
            if history.args:
                with st.expander(f"Training arguments of {history.name}"):
                    st.json(history.args, expanded=False)


run()
