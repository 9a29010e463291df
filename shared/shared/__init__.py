"""Contracts and helpers for every service: events, commands, enums, workflow, topics."""
