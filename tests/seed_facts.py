"""Facts written out by hand from the seeds (001 "Case Types"), for tests to check against."""

# The ten case types, in the seed's order and wording.
SEED_CASE_TYPES = (
    "Ask a Question",
    "Application Issue",
    "Data Restore",
    "Modify Support Contacts",
    "Report an Outage",
    "Server Issue",
    "Server Access",
    "Request Training",
    "Request Consulting",
    "Request Technical Services",
)
