"""Streamlit helpers shared by the pages: the cached model, sidebar controls, error display.

Kept outside ``crackseg`` because the core never imports Streamlit.
"""
