"""The Support Portal: the web app district contacts use."""
