"""An app whose module fails at import, as one missing a setting would."""

raise RuntimeError("DATABASE_URL is not set")
