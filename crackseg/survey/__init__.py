"""Surveys: a drive (video + GPS track, or geotagged photos) in, a rated road map out.

Enters: frames with times and positions; street-view inspections from
``crackseg.pipeline``. Leaves: findings located on the road, sections with
measures and a condition rating, GeoJSON, tables and the survey report.
"""
