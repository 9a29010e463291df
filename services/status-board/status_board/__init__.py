"""status_board package."""
