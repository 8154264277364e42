"""One router per resource (FastAPI "bigger applications")."""
