"""Dataset: a labelled split's images with their ground truth drawn, and statistics over the split.

The data is the shipped samples by default, or a YOLO ``data.yaml`` split or
image + mask folders inside the folders the operator allows
(``$CRACKSEG_DATA_DIRS``). Nothing here runs the model: the statistics are
those of the ground truth, measured by ``crackseg.evaluation.dataset_stats``.
"""

from __future__ import annotations

import math

import numpy as np
import streamlit as st

from crackseg.core.errors import CrackSegError
from crackseg.datasets.labelled import LabelledImage
from crackseg.datasets.opening import LabelledData, open_labelled_data
from crackseg.evaluation.dataset_stats import DatasetStats, dataset_statistics, select_images
from crackseg.export.overlays import downscale_to_fit, draw_overlay
from crackseg.inference.prediction import CrackPrediction
from ui.controls import labelled_data_controls
from ui.plots import distribution_figure

PAGE_SIZE = 12
GALLERY_COLUMNS = 4
GALLERY_MAX_SIDE_PX = 640
SORT_CHOICES = {
    "image": "name",
    "instances": "instances",
    "crack_area_pct": "crack area (%)",
    "total_length_px": "total crack length",
}


def _modified_ns(item: LabelledImage) -> tuple[int, ...]:
    """Modification times of an item's image and truth files (-1 when absent), so edits refresh the caches."""
    stamps = []
    for path in (item.image_path, item.label_path, item.mask_path):
        try:
            stamps.append(path.stat().st_mtime_ns if path is not None else -1)
        except OSError:
            stamps.append(-1)
    return tuple(stamps)


@st.cache_data(show_spinner=False, max_entries=4)
def _statistics(data: LabelledData, signature: tuple[tuple[int, ...], ...], max_images: int) -> DatasetStats:
    """Ground-truth statistics of ``data`` (keyed on its resolved paths, split and file times), with a progress bar."""
    del signature  # cache key only
    bar = st.progress(0.0, text="Reading the ground truth…")

    def progress(done: int, total: int, name: str) -> None:
        bar.progress(min(done / max(total, 1), 1.0), text=f"{done}/{total} images · {name}")

    stats = dataset_statistics(data.items, progress=progress, max_images=max_images)
    bar.empty()
    return stats


@st.cache_data(show_spinner=False, max_entries=48)
def _truth_overlay(item: LabelledImage, modified_ns: tuple[int, ...]) -> np.ndarray:
    """The image with its ground-truth instances drawn and numbered as in the per-instance table."""
    del modified_ns  # cache key only
    rgb = item.load_rgb()
    truth = item.truth_masks((rgb.shape[1], rgb.shape[0]))
    overlay = draw_overlay(rgb, CrackPrediction.from_masks(truth), alpha=0.45, show_boxes=False)
    return downscale_to_fit(overlay, GALLERY_MAX_SIDE_PX)


def _open_data() -> tuple[LabelledData, int]:
    """Sidebar choices, checked by ``crackseg.io.allowed_paths``; a problem stops the page with one error line."""
    with st.sidebar:
        choice = labelled_data_controls("data", allow_mask_folders=True)
        max_images = st.number_input(
            "At most (images)",
            min_value=1,
            max_value=100_000,
            value=2000,
            step=100,
            key="data_max_images",
            help="The first images of the split (by name) are measured; raise this for larger splits.",
        )
    if not choice.data_text.strip() or (choice.masks_text is not None and not choice.masks_text.strip()):
        st.info("Type the image folder and the mask folder in the sidebar.")
        st.stop()
    try:
        data = open_labelled_data(choice.data_text, choice.split, choice.masks_text)
    except CrackSegError as error:
        st.error(str(error))
        st.stop()
    return data, int(max_images)


def _header(data: LabelledData, stats: DatasetStats) -> None:
    summary = stats.summary
    st.caption(f"{data.source} · ground truth only (the model is not run)")
    if summary["skipped"]:
        st.warning(
            f"Only the first {summary['images'] + summary['failed']} of {summary['listed']} images were read; "
            "raise **At most** in the sidebar to include the rest."
        )
    if stats.failures:
        with st.expander(f"{len(stats.failures)} image(s) could not be read"):
            st.write("\n".join(f"- {failure}" for failure in stats.failures))
    columns = st.columns(5)
    columns[0].metric("Images", summary["images"])
    columns[1].metric("Without cracks", summary["images_without_cracks"])
    columns[2].metric("Crack instances", summary["instances"])
    columns[3].metric("Instances per image", f"{summary['instances_per_image_mean']:.2f}")
    columns[4].metric("Mean crack area", f"{summary['crack_area_pct_mean']:.2f} %", help="share of image pixels")


def _gallery(data: LabelledData, stats: DatasetStats) -> None:
    """Filter, sort and page the images; each shows its ground truth (instances numbered as in the table)."""
    per_image = stats.per_image
    controls = st.columns(4)
    sort_by = controls[0].selectbox("Sort by", list(SORT_CHOICES), format_func=SORT_CHOICES.get, key="data_sort")
    descending = controls[0].toggle("Descending", value=False, key="data_descending")
    most = int(per_image["instances"].max())
    instances = None
    if most > 0:
        low, high = controls[1].slider("Instances per image", 0, most, (0, most), key="data_instances")
        instances = None if (low, high) == (0, most) else (int(low), int(high))
    top_pct = math.ceil(float(per_image["crack_area_pct"].max()) * 10) / 10
    fraction = None
    if top_pct > 0:
        low, high = controls[2].slider("Crack area (%)", 0.0, top_pct, (0.0, top_pct), 0.1, key="data_fraction")
        fraction = None if (low, high) == (0.0, top_pct) else (low, high)
    rows = select_images(
        per_image, instances=instances, crack_area_pct=fraction, sort_by=sort_by, descending=descending
    )
    pages = max(1, math.ceil(len(rows) / PAGE_SIZE))
    page = int(controls[3].number_input(f"Page (of {pages})", min_value=1, max_value=pages, step=1, key="data_page"))
    if rows.empty:
        st.info("No image matches these filters.")
        return
    first = (page - 1) * PAGE_SIZE
    shown = rows.iloc[first : first + PAGE_SIZE]
    st.caption(
        f"Images {first + 1}-{first + len(shown)} of {len(rows)} · ground truth in orange, numbered as in the "
        "per-instance table"
    )
    items = {item.name: item for item in data.items}
    columns = st.columns(GALLERY_COLUMNS)
    for position, row in enumerate(shown.itertuples(index=False)):
        with columns[position % GALLERY_COLUMNS]:
            item = items[row.image]
            try:
                overlay = _truth_overlay(item, _modified_ns(item))
            except CrackSegError as error:
                st.error(str(error))
                continue
            st.image(
                overlay,
                caption=f"{row.image} · {row.instances} instance(s) · {row.crack_area_pct:.2f} % crack",
                width="stretch",
            )


def _distributions(stats: DatasetStats) -> None:
    per_image, per_instance = stats.per_image, stats.per_instance
    left, right = st.columns(2)
    left.plotly_chart(
        distribution_figure(per_image["instances"], title="Instances per image", x_title="instances", discrete=True),
        key="data_hist_instances",
    )
    right.plotly_chart(
        distribution_figure(
            per_image["crack_area_pct"], title="Crack area per image", x_title="crack pixels (% of image)"
        ),
        key="data_hist_fraction",
    )
    left, right = st.columns(2)
    left.plotly_chart(
        distribution_figure(
            per_instance["length_px"], title="Instance length", x_title="skeleton length (px)", y_title="instances"
        ),
        key="data_hist_length",
    )
    right.plotly_chart(
        distribution_figure(
            per_instance["mean_width_px"], title="Instance mean width", x_title="mean width (px)", y_title="instances"
        ),
        key="data_hist_width",
    )


def _tables(stats: DatasetStats) -> None:
    st.dataframe(
        stats.per_image,
        hide_index=True,
        column_config={
            "crack_area_pct": st.column_config.NumberColumn("crack area (%)", format="%.2f"),
            "total_length_px": st.column_config.NumberColumn("total_length_px", format="%.1f"),
        },
        key="data_per_image",
    )
    st.download_button(
        "Per-image table (CSV)",
        stats.per_image.to_csv(index=False).encode("utf-8"),
        "dataset_per_image.csv",
        "text/csv",
        key="data_per_image_csv",
    )
    with st.expander(f"Per instance ({len(stats.per_instance)} instances)"):
        st.dataframe(stats.per_instance.round(2), hide_index=True, key="data_per_instance")
        st.download_button(
            "Per-instance table (CSV)",
            stats.per_instance.to_csv(index=False).encode("utf-8"),
            "dataset_per_instance.csv",
            "text/csv",
            key="data_per_instance_csv",
        )


def run() -> None:
    st.title("Dataset")
    data, max_images = _open_data()
    stats = _statistics(data, tuple(_modified_ns(item) for item in data.items), max_images)
    if stats.per_image.empty:
        first = f" ({stats.failures[0]})" if stats.failures else ""
        st.error(f"{data.source}: no image could be read{first}")
        st.stop()
    _header(data, stats)
    gallery, distributions, tables = st.tabs(["Gallery", "Statistics", "Per image"])
    with gallery:
        _gallery(data, stats)
    with distributions:
        _distributions(stats)
    with tables:
        _tables(stats)


run()
