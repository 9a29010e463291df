"""Facts written out by hand from the seeds (000 and 001), for tests to check the code against."""

# The ten case types, in the seed's order and wording (001 "Case Types").
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

# --- 000 "Status": the ten statuses and who moves a case between them -------------------------

SEED_STATUSES = (
    "New",
    "Assigned",
    "Assist Request",
    "Pending Customer Input",
    "Pending Customer Verification",
    "Scheduled",
    "Assigned to Development",
    "Closed",
    "Available in Release",
    "Re-Opened",
)
CONTACT, STAFF, SYSTEM = "contact", "staff", "system"
OPEN_STATUSES = tuple(status for status in SEED_STATUSES if status != "Closed")

Move = tuple[str, str, str]  # (from status, to status, who makes the move)

# Moves a seed sentence states outright.
SEED_MOVES: frozenset[Move] = frozenset(
    {
        # "Assigned - case has been created and assigned to a Campus support resource."
        ("New", "Assigned", STAFF),
        # "Assist Request - case is pending the input of an internal Campus resource."
        ("Assigned", "Assist Request", STAFF),
        # "Pending Customer Input - case requires additional information from an Authorized
        # Support Contact in order to seek resolution."
        ("Assigned", "Pending Customer Input", STAFF),
        # "Upon resolution, Campus Support provides a written explanation via the Support Case
        # Portal and places the case in pending status for customer verification."
        ("Assigned", "Pending Customer Verification", STAFF),
        # "Scheduled - action required to meet request has been scheduled to take place on a
        # future date, such as a planned training."
        ("Assigned", "Scheduled", STAFF),
        # "all product defects ... undergo a status change within our case management
        # application, indicating assignment to the Development team."
        ("Assigned", "Assigned to Development", STAFF),
        # "Upon fixing a product defect, Authorized Contacts are notified within the case via a
        # note and a status change to "Available in Release.""
        ("Assigned to Development", "Available in Release", STAFF),
        # "If resolved satisfactorily, the Authorized Contact should close the case."
        ("Pending Customer Verification", "Closed", CONTACT),
        # "If the Authorized Contact doesn't respond or close the case, Campus Support will
        # attempt to reach them for 10 business days before closing the case."
        ("Pending Customer Verification", "Closed", SYSTEM),
        # "If the case is closed and unresolved, the Authorized Contact can reopen the case
        # (within 60 days), providing additional details for further investigation."
        ("Closed", "Re-Opened", CONTACT),
        # "Re-Opened - previously closed case has been re-opened by the customer and is awaiting
        # further assistance from a Campus support resource."
        ("Re-Opened", "Assigned", STAFF),
        # "Closed - case has been resolved, meeting the needs of the user and marked as complete
        # by your Campus support resource."
        *((status, "Closed", STAFF) for status in OPEN_STATUSES),
        # "Cases may be closed (or re-opened) using the button at the top." (a New case already
        # shows "Close This Case").
        *((status, "Closed", CONTACT) for status in OPEN_STATUSES),
    }
)

# Moves the code allows that the seeds imply but do not list, each with the sentence behind it.
EXTRA_MOVES: frozenset[Move] = frozenset(
    {
        # 001: "Cases will be routed to the proper department at Infinite Campus based on the
        # type chosen." Routing assigns new and re-opened cases without a person.
        ("New", "Assigned", SYSTEM),
        ("Re-Opened", "Assigned", SYSTEM),
        # "Campus Support utilizes an online case portal and phone support to assist Authorized
        # Contacts": staff reopen a case for a contact who calls.
        ("Closed", "Re-Opened", STAFF),
        # Pending Customer Input "requires additional information from an Authorized Support
        # Contact": the contact's answer (a post) hands the case back to its resource.
        ("Pending Customer Input", "Assigned", CONTACT),
        ("Pending Customer Input", "Assigned", STAFF),
        # With that information in, the resource may resolve or schedule straight away.
        ("Pending Customer Input", "Pending Customer Verification", STAFF),
        ("Pending Customer Input", "Scheduled", STAFF),
        # "If resolved satisfactorily, the Authorized Contact should close the case": if not,
        # the contact's answer sends the case back to work, or staff ask for more.
        ("Pending Customer Verification", "Assigned", CONTACT),
        ("Pending Customer Verification", "Assigned", STAFF),
        ("Pending Customer Verification", "Pending Customer Input", STAFF),
        # Assist Request "is pending the input of an internal Campus resource": once it is in,
        # the case goes on as from Assigned.
        ("Assist Request", "Assigned", STAFF),
        ("Assist Request", "Pending Customer Input", STAFF),
        ("Assist Request", "Pending Customer Verification", STAFF),
        ("Assist Request", "Scheduled", STAFF),
        ("Assist Request", "Assigned to Development", STAFF),
        # Scheduled: "action ... scheduled to take place on a future date": once it has taken
        # place, the case goes on as from Assigned (escalation aside).
        ("Scheduled", "Assigned", STAFF),
        ("Scheduled", "Assist Request", STAFF),
        ("Scheduled", "Pending Customer Input", STAFF),
        ("Scheduled", "Pending Customer Verification", STAFF),
        # "Once confirmed as a defect, the case is associated with a development issue": one
        # that is not confirmed goes back to its support resource.
        ("Assigned to Development", "Assigned", STAFF),
        # After the release: "places the case in pending status for customer verification", or
        # back to the resource if the fix needs more work.
        ("Available in Release", "Pending Customer Verification", STAFF),
        ("Available in Release", "Assigned", STAFF),
    }
)

ALLOWED_MOVES = SEED_MOVES | EXTRA_MOVES

# Target statuses whose move must carry a written note, with the sentence that says so.
SEED_NOTE_REQUIRED = {
    "Pending Customer Verification": "Campus Support provides a written explanation",
    "Re-Opened": "providing additional details for further investigation",
    "Assigned to Development": "notification of the escalation via a note on the case",
    "Available in Release": "notified within the case via a note and a status change",
}
# The contact must be told what is needed: "requires additional information from an
# Authorized Support Contact".
EXTRA_NOTE_REQUIRED = {"Pending Customer Input": "what information is needed from the contact"}
NOTE_REQUIRED = {**SEED_NOTE_REQUIRED, **EXTRA_NOTE_REQUIRED}

# More than a note: "all product defects are linked to a unique Product Development issue
# number"; "available in a Campus Release Pack" (which one).
MOVE_FIELDS = {
    "Assigned to Development": "development_issue",
    "Available in Release": "release_name",
}

REOPEN_WINDOW_DAYS = 60  # "can reopen the case (within 60 days)"
AUTO_CLOSE_BUSINESS_DAYS = 10  # "attempt to reach them for 10 business days"

# --- 001 "Case Fields": the fields of each case type's form -----------------------------------

_ISSUE, _OUTAGE, _SERVER = "Application Issue", "Report an Outage", "Server Issue"
_CONTACTS, _TECH = "Modify Support Contacts", "Request Technical Services"

# Each field label as the seed writes it, with the case types its "Displays on Case Types"
# column names ("All" written out).
SEED_FIELDS: dict[str, tuple[str, ...]] = {
    "Account": SEED_CASE_TYPES,
    "Contact": SEED_CASE_TYPES,
    "Priority": SEED_CASE_TYPES,
    "Subject": SEED_CASE_TYPES,
    "Description": SEED_CASE_TYPES,
    "Type": (_ISSUE, _TECH),
    "Module": (_ISSUE, "Ask a Question", "Data Restore", _SERVER, _TECH),
    "Steps to Reproduce": (_ISSUE,),
    "Environment Changes": (_ISSUE,),
    "Error Message": (_ISSUE, _OUTAGE, _SERVER),
    "Expected Results": (_ISSUE,),
    "Who is impacted?": (_ISSUE,),
    "Issue Began": (_ISSUE, _SERVER),
    "Location within Product": ("Ask a Question",),
    "Request Type": ("Request Training", "Server Access", _CONTACTS),
    "Preferred Training Date": ("Request Training",),
    "Approximate Date of Loss": ("Data Restore",),
    "Reason for Restore": ("Data Restore",),
    "Desired Completion Date": (_TECH,),
    "Contact First Name": (_CONTACTS,),
    "Contact Last Name": (_CONTACTS,),
    "Contact Email": (_CONTACTS,),
    "Contact Title": (_CONTACTS,),
    "Contact Primary Phone": (_CONTACTS,),
    "Contact Secondary Phone": (_CONTACTS,),
    "Contact Type": (_CONTACTS,),
    "Area of Responsibility": (_CONTACTS,),
    "Contact Replacement Name": (_CONTACTS,),
    "Preferred Consult Date": ("Request Consulting",),
    "Preferred Consult Date 2": ("Request Consulting",),
    "Preferred Consult Date 3": ("Request Consulting",),
}

# The API's name of each label; "Type" is a different field on each of its two forms.
API_NAMES = {
    "Account": "account_id",
    "Contact": "contact_id",
    "Priority": "priority",
    "Subject": "subject",
    "Description": "description",
    "Module": "module",
    "Steps to Reproduce": "steps_to_reproduce",
    "Environment Changes": "environment_changes",
    "Error Message": "error_message",
    "Expected Results": "expected_results",
    "Who is impacted?": "who_is_impacted",
    "Issue Began": "issue_began",
    "Location within Product": "location_within_product",
    "Request Type": "request_type",
    "Preferred Training Date": "preferred_training_date",
    "Approximate Date of Loss": "approximate_date_of_loss",
    "Reason for Restore": "reason_for_restore",
    "Desired Completion Date": "desired_completion_date",
    "Contact First Name": "contact_first_name",
    "Contact Last Name": "contact_last_name",
    "Contact Email": "contact_email",
    "Contact Title": "contact_title",
    "Contact Primary Phone": "contact_primary_phone",
    "Contact Secondary Phone": "contact_secondary_phone",
    "Contact Type": "contact_type",
    "Area of Responsibility": "areas_of_responsibility",
    "Contact Replacement Name": "contact_replacement_name",
    "Preferred Consult Date": "preferred_consult_date",
    "Preferred Consult Date 2": "preferred_consult_date_2",
    "Preferred Consult Date 3": "preferred_consult_date_3",
}
TYPE_FIELD = {_ISSUE: "application_type", _TECH: "services_type"}

# "Fields marked with a red asterisk on the form are required": the asterisks did not survive
# the extraction, so a listed field counts as required unless the seed's own words let the
# contact leave it out. These are the fields whose words do, with those words.
SEED_OPTIONAL = {
    "Account": "This field defaults to the district assigned to the user.",
    "Contact": "This field defaults to the user entering the case.",
    "Priority": "This field defaults to Medium.",
    "Error Message": "any error messages that may display (the example case leaves it empty)",
    "Contact Secondary Phone": "Contact's secondary phone number if available.",
    "Contact Replacement Name": "If replacing a contact, indicate which contact should be removed.",
}

# Four more that the seed lists without optional wording and the forms still leave optional: a
# judgment, since the asterisks are lost. Each is a supplement a contact may not have; requiring
# them would make people type "None" (as 001's example does) or invent alternates.
JUDGED_OPTIONAL = {
    "Location within Product": "Ask a Question already requires the Module it is asked about.",
    "Environment Changes": "001's example case answers it with 'None': nothing changed.",
    "Preferred Consult Date 2": "an alternate, as training's second choice date is optional.",
    "Preferred Consult Date 3": "an alternate, as training's third choice date is optional.",
}

# Fields the code's forms have beyond the seed's table, each with the sentence behind it.
EXTRA_REQUIRED: dict[str, tuple[str, ...]] = {
    # Data Restore: "Request lost or deleted data be restored. We require your written permission."
    "Data Restore": ("written_permission",),
}
EXTRA_OPTIONAL: dict[str, tuple[str, ...]] = {
    # 000: "detailing the issue, replication steps, priority level, and due date if it is
    # time-sensitive."
    **dict.fromkeys(SEED_CASE_TYPES, ("due_date",)),
    # "First, second and third choice dates when you would prefer to schedule your training":
    # one label, three dates; the first is the required "Preferred Training Date".
    "Request Training": ("due_date", "preferred_training_date_2", "preferred_training_date_3"),
    # "Note that Infinite Campus Schema Bootcamp training is required for SQL Server access."
    "Server Access": ("due_date", "schema_training_completed"),
}


def _api_name(label: str, case_type: str) -> str:
    return TYPE_FIELD[case_type] if label == "Type" else API_NAMES[label]


def form_fields(case_type: str) -> set[str]:
    """Every field of a case type's form: the seed's, plus the extras."""
    seed = {
        _api_name(label, case_type) for label, types in SEED_FIELDS.items() if case_type in types
    }
    return seed | set(EXTRA_REQUIRED.get(case_type, ())) | set(EXTRA_OPTIONAL[case_type])


def required_fields(case_type: str) -> set[str]:
    """The fields a case type's form cannot be submitted without."""
    seed = {
        _api_name(label, case_type)
        for label, types in SEED_FIELDS.items()
        if case_type in types and label not in SEED_OPTIONAL | JUDGED_OPTIONAL.keys()
    }
    return seed | set(EXTRA_REQUIRED.get(case_type, ()))
