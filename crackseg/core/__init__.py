"""Leaves every stage may use: errors, project locations, offline/telemetry guards, system facts.

Enters: nothing from the rest of the package (standard library only, plus what each
guard disarms). Leaves: ``CrackSegError`` and its kinds, fixed paths (``locations``),
``enforce_offline``, the CPU description.
"""
