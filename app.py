"""CrackSeg Streamlit app: page config, navigation over ``app_pages/``, shared sidebar.

The pages live in ``app_pages/``, not ``pages/``: that folder name switches
Streamlit to its legacy folder mode, which serves deep links without this file.

Run with ``streamlit run app.py``. Each page is a thin script: widgets, one
call into ``crackseg``, render.
"""

from __future__ import annotations

import streamlit as st

from crackseg.core.offline import enforce_offline
from ui.runtime import limit_malloc_arenas

enforce_offline()
limit_malloc_arenas()
st.set_page_config(page_title="CrackSeg", page_icon=":material/road:", layout="wide")

PAGES = [
    st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("app_pages/segment.py", title="Segment", icon=":material/image_search:"),
    st.Page("app_pages/survey.py", title="Survey", icon=":material/route:"),
    st.Page("app_pages/preprocessing.py", title="Preprocessing", icon=":material/tune:"),
    st.Page("app_pages/training.py", title="Training curves", icon=":material/show_chart:"),
    st.Page("app_pages/evaluation.py", title="Evaluation", icon=":material/fact_check:"),
    st.Page("app_pages/dataset.py", title="Dataset", icon=":material/dataset:"),
]

navigation = st.navigation(PAGES)
with st.sidebar:
    st.caption("CrackSeg · road-crack segmentation, measurement and rating · runs offline")
navigation.run()
