"""Plotly figures for the app's analysis pages: pure functions from tables and arrays to figures.

Nothing here computes a metric or touches Streamlit: each function draws
numbers that ``crackseg.evaluation.comparison``, ``crackseg.evaluation.run`` or
``crackseg.training.runs`` already computed, so the figures can be tested on their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

from crackseg.training.runs import DEFAULT_BEST_METRIC, RunHistory, stage_boundaries

CLASS_LABELS = ("background", "crack")
PALETTE = qualitative.Plotly
DASHES = ("solid", "dash", "dot", "dashdot")
_MARGIN = {"l": 10, "r": 10, "t": 40, "b": 10}


def _layout(figure: go.Figure, title: str, x_title: str, y_title: str, height: int) -> go.Figure:
    figure.update_layout(
        title=title,
        xaxis_title=x_title,
        yaxis_title=y_title,
        height=height,
        margin=_MARGIN,
        legend={"orientation": "h", "yanchor": "top", "y": -0.2},
        hovermode="x unified",
    )
    return figure


# --------------------------------------------------------------------------- preprocessing


def histogram_figure(counts: np.ndarray, *, title: str = "Luminance histogram", height: int = 220) -> go.Figure:
    """Bars of ``counts`` ``(256,)`` (pixels per luminance level 0-255)."""
    counts = np.asarray(counts)
    if counts.shape != (256,):
        raise ValueError(f"counts must be (256,), got {counts.shape}")
    figure = go.Figure(go.Bar(x=np.arange(256), y=counts, marker_color="#555", marker_line_width=0))
    figure.update_layout(bargap=0, hovermode="closest", showlegend=False)
    figure.update_xaxes(range=[-1, 256])
    return _layout(figure, title, "luminance (0-255)", "pixels", height)


def delta_figure(table: pd.DataFrame, metrics: Sequence[str], *, height: int = 320) -> go.Figure:
    """Grouped bars: for each metric, ``<metric>_delta`` of every non-baseline row (``comparison_table``)."""
    figure = go.Figure()
    rows = table[table["method"] != "none"]
    for index, (_, row) in enumerate(rows.iterrows()):
        figure.add_bar(
            name=str(row["preprocessing"]),
            x=list(metrics),
            y=[float(row[f"{metric}_delta"]) for metric in metrics],
            marker_color=PALETTE[(index + 1) % len(PALETTE)],
        )
    figure.add_hline(y=0, line_color="#444", line_width=1)
    figure.update_layout(barmode="group", hovermode="closest")
    return _layout(figure, "Change against no preprocessing", "metric", "delta (method - none)", height)


# --------------------------------------------------------------------------- training histories


def history_figure(
    runs: Sequence[RunHistory],
    columns: Sequence[str],
    *,
    title: str,
    y_title: str,
    log_y: bool = False,
    best_metric: str = DEFAULT_BEST_METRIC,
    height: int = 340,
) -> go.Figure:
    """Lines of ``columns`` against ``global_epoch`` for every run; columns a run lacks are skipped.

    Each run has its colour; the column's position in ``columns`` sets the
    dash (solid, dash, dot). Stage boundaries are grey dotted vertical lines,
    each run's best epoch (``RunHistory.best_epoch(best_metric)``) a vertical
    line in its colour. A figure without any column present has no traces.
    """
    figure = go.Figure()
    for run_index, run in enumerate(runs):
        color = PALETTE[run_index % len(PALETTE)]
        table = run.table
        drawn = 0
        for column_index, column in enumerate(columns):
            if column not in table.columns or table[column].notna().sum() == 0:
                continue
            valid = table[table[column].notna()]
            figure.add_scatter(
                x=valid["global_epoch"],
                y=valid[column],
                mode="lines+markers" if len(valid) < 30 else "lines",
                name=f"{run.name} · {column}",
                line={"color": color, "dash": DASHES[column_index % len(DASHES)]},
                marker={"size": 5},
            )
            drawn += 1
        if not drawn:
            continue
        for boundary in stage_boundaries(table):
            figure.add_vline(x=boundary, line_dash="dot", line_color="#888", line_width=1)
        best = run.best_epoch(best_metric)
        if best is not None:
            figure.add_vline(
                x=best,
                line_dash="dashdot",
                line_color=color,
                line_width=1,
                annotation_text=f"best {run.name}: {best}",
                annotation_position="top left",
                annotation_font_size=10,
            )
    if log_y:
        figure.update_yaxes(type="log")
    return _layout(figure, title, "epoch (continuous across stages)", y_title, height)


# --------------------------------------------------------------------------- evaluation


def normalize_rows(matrix: np.ndarray, undefined: Sequence[tuple[int, int]] = ()) -> np.ndarray:
    """Each row of a confusion matrix divided by its sum (share of each true class), float64.

    Cells listed in ``undefined`` are left out of the sums and become NaN; a
    row summing to 0 is NaN throughout.
    """
    values = np.asarray(matrix, dtype=np.float64).copy()
    for row, column in undefined:
        values[row, column] = np.nan
    sums = np.nansum(values, axis=1, keepdims=True)
    out = np.full_like(values, np.nan)
    np.divide(values, sums, out=out, where=(sums > 0) & ~np.isnan(values))
    return out


def confusion_figure(
    matrix: np.ndarray,
    *,
    title: str,
    normalize: bool = False,
    undefined: Sequence[tuple[int, int]] = (),
    height: int = 340,
) -> go.Figure:
    """Heatmap of a ``(2, 2)`` confusion matrix, rows truth and columns prediction (background, crack).

    ``z`` holds the counts, or with ``normalize`` the row shares
    (``normalize_rows``); cells in ``undefined`` show "n/a" and have NaN ``z``.
    Row 0 is drawn at the top, as a matrix is read.
    """
    counts = np.asarray(matrix)
    if counts.shape != (2, 2):
        raise ValueError(f"matrix must be (2, 2), got {counts.shape}")
    if normalize:
        z = normalize_rows(counts, undefined)
        text = [[("n/a" if np.isnan(value) else f"{value:.1%}") for value in row] for row in z]
    else:
        z = counts.astype(np.float64)
        for row, column in undefined:
            z[row, column] = np.nan
        text = [[("n/a" if np.isnan(value) else f"{int(value):,}") for value in row] for row in z]
    figure = go.Figure(
        go.Heatmap(
            z=z.tolist(),  # plain lists (NaN -> null) keep the numbers readable in the figure's JSON
            x=list(CLASS_LABELS),
            y=list(CLASS_LABELS),
            text=text,
            texttemplate="%{text}",
            textfont={"size": 16},
            colorscale="Blues",
            showscale=False,
            hovertemplate="truth %{y}, predicted %{x}: %{text}<extra></extra>",
        )
    )
    figure.update_yaxes(autorange="reversed")
    figure.update_layout(hovermode="closest")
    return _layout(figure, title, "predicted", "truth", height)


def _nearest(thresholds: np.ndarray, value: float) -> int:
    return int(np.argmin(np.abs(thresholds - value)))


def _sweep_arrays(sweep: Mapping[str, Sequence[float]]) -> tuple[np.ndarray, ...]:
    arrays = tuple(np.asarray(sweep[key], dtype=np.float64) for key in ("thresholds", "precision", "recall", "f1"))
    if len({array.shape for array in arrays}) != 1 or arrays[0].ndim != 1 or arrays[0].size == 0:
        raise ValueError("sweep thresholds, precision, recall and f1 must be 1-D lists of one length")
    return arrays


def pr_curve_figure(sweep: Mapping[str, Sequence[float]], chosen_conf: float, *, height: int = 380) -> go.Figure:
    """Precision against recall over the sweep's thresholds; the threshold nearest ``chosen_conf`` is starred."""
    thresholds, precision, recall, f1 = _sweep_arrays(sweep)
    figure = go.Figure()
    figure.add_scatter(
        x=recall,
        y=precision,
        mode="lines+markers",
        name="sweep",
        customdata=np.stack([thresholds, f1], axis=1),
        hovertemplate="conf %{customdata[0]:.2f}: P %{y:.3f}, R %{x:.3f}, F1 %{customdata[1]:.3f}<extra></extra>",
    )
    chosen = _nearest(thresholds, chosen_conf)
    figure.add_scatter(
        x=[recall[chosen]],
        y=[precision[chosen]],
        mode="markers",
        name=f"chosen conf {thresholds[chosen]:.2f}",
        marker={"symbol": "star", "size": 16, "color": "#d62728"},
    )
    best = int(np.argmax(f1))
    figure.add_scatter(
        x=[recall[best]],
        y=[precision[best]],
        mode="markers",
        name=f"best F1 (ODS) at conf {thresholds[best]:.2f}",
        marker={"symbol": "diamond", "size": 12, "color": "#2ca02c"},
    )
    figure.update_xaxes(range=[0, 1.02])
    figure.update_yaxes(range=[0, 1.02])
    figure.update_layout(hovermode="closest")
    return _layout(figure, "Precision-recall (tolerance-matched pixels)", "recall", "precision", height)


def f1_confidence_figure(sweep: Mapping[str, Sequence[float]], chosen_conf: float, *, height: int = 380) -> go.Figure:
    """Precision, recall and F1 against the confidence threshold, with ``chosen_conf`` marked."""
    thresholds, precision, recall, f1 = _sweep_arrays(sweep)
    figure = go.Figure()
    for name, values, dash, color in (
        ("F1", f1, "solid", "#1f77b4"),
        ("precision", precision, "dash", "#2ca02c"),
        ("recall", recall, "dot", "#ff7f0e"),
    ):
        figure.add_scatter(x=thresholds, y=values, mode="lines+markers", name=name, line={"dash": dash, "color": color})
    figure.add_vline(
        x=float(chosen_conf),
        line_color="#333",
        line_dash="dash",
        annotation_text=f"chosen conf {chosen_conf:.2f}",
        annotation_position="top right",
    )
    figure.update_yaxes(range=[0, 1.02])
    return _layout(figure, "Scores against confidence threshold", "confidence threshold", "score", height)


# --------------------------------------------------------------------------- dataset statistics


def distribution_figure(
    values: Sequence[float] | np.ndarray,
    *,
    title: str,
    x_title: str,
    y_title: str = "images",
    discrete: bool = False,
    bins: int = 30,
    height: int = 300,
) -> go.Figure:
    """Histogram bars of ``values`` (1-D; NaN dropped), binned here with numpy so the counts are testable.

    ``discrete``: one bar per integer ``0..max`` (non-negative integers such as instances per image,
    zero-count integers shown as empty bars). Otherwise ``bins`` equal-width bins over ``[min, max]``,
    each bar centred on its bin with ``customdata`` holding ``[left, right]`` edges. No values: no trace,
    a "no data" note.
    """
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    array = array[~np.isnan(array)]
    figure = go.Figure()
    if array.size == 0:
        figure.add_annotation(text="no data", showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
    elif discrete:
        if np.any(array < 0) or np.any(array != np.round(array)):
            raise ValueError("discrete values must be non-negative integers")
        counts = np.bincount(array.astype(np.int64))
        figure.add_bar(x=np.arange(counts.size), y=counts, marker_color="#555")
    else:
        if bins < 1:
            raise ValueError(f"bins must be >= 1, got {bins}")
        counts, edges = np.histogram(array, bins=bins)
        figure.add_bar(
            x=(edges[:-1] + edges[1:]) / 2,
            y=counts,
            width=np.diff(edges),
            customdata=np.stack([edges[:-1], edges[1:]], axis=1),
            hovertemplate="%{customdata[0]:.4g} – %{customdata[1]:.4g}: %{y}<extra></extra>",
            marker_color="#555",
        )
    figure.update_layout(bargap=0.05, hovermode="closest", showlegend=False)
    return _layout(figure, title, x_title, y_title, height)
