"""The user's path from inputs to outputs: load, segment, measure, and write every file.

Enters: named inputs (files, folders, ZIPs, uploads) and settings. Leaves:
``Inspection`` results per image (or a ``InspectionFailure`` with its reason) and
the files the CLI and the app hand to the user.
"""
