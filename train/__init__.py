"""Training and fine-tuning entry points (scripts, not part of the crackseg package)."""
