"""Enumerations of the support portal, with values as users read them."""

from enum import StrEnum


class CaseType(StrEnum):
    """The ten kinds of case a contact can submit; each has its own form."""

    ASK_A_QUESTION = "Ask a Question"
    APPLICATION_ISSUE = "Application Issue"
    DATA_RESTORE = "Data Restore"
    MODIFY_SUPPORT_CONTACTS = "Modify Support Contacts"
    REPORT_AN_OUTAGE = "Report an Outage"
    SERVER_ISSUE = "Server Issue"
    SERVER_ACCESS = "Server Access"
    REQUEST_TRAINING = "Request Training"
    REQUEST_CONSULTING = "Request Consulting"
    REQUEST_TECHNICAL_SERVICES = "Request Technical Services"


class Priority(StrEnum):
    """Urgency of a case; Critical is limited to outage cases."""

    CRITICAL = "Critical"
    HIGH = "High"
    MEDIUM = "Medium"
    LOW = "Low"

    @property
    def rank(self) -> int:
        """Queue order: Critical first."""
        return _PRIORITY_RANK[self]


_PRIORITY_RANK = {Priority.CRITICAL: 0, Priority.HIGH: 1, Priority.MEDIUM: 2, Priority.LOW: 3}


class Disruption(StrEnum):
    """Level of disruption to the customer's workflow (the seeds' first impact question)."""

    MINIMAL = "Minimal"
    MODERATE = "Moderate"
    SIGNIFICANT = "Significant"
    SEVERE = "Severe"

    @property
    def weight(self) -> int:
        """Its share of the impact score: 0 (Minimal) to 3 (Severe)."""
        return list(Disruption).index(self)


class Status(StrEnum):
    """The ten statuses of the case workflow."""

    NEW = "New"
    ASSIGNED = "Assigned"
    ASSIST_REQUEST = "Assist Request"
    PENDING_CUSTOMER_INPUT = "Pending Customer Input"
    PENDING_CUSTOMER_VERIFICATION = "Pending Customer Verification"
    SCHEDULED = "Scheduled"
    ASSIGNED_TO_DEVELOPMENT = "Assigned to Development"
    CLOSED = "Closed"
    AVAILABLE_IN_RELEASE = "Available in Release"
    RE_OPENED = "Re-Opened"


class Department(StrEnum):
    """Departments that own work queues; the slug names the queue topic."""

    CAMPUS_SUPPORT = "Campus Support"
    HOSTING = "Hosting / Technical Support"
    TRAINING = "Training"
    BUSINESS_CONSULTING = "Business Consulting"
    TECHNICAL_SERVICES = "Technical Services"
    ACCOUNT_MANAGEMENT = "Account Management"

    @property
    def slug(self) -> str:
        """Short, topic-safe name, e.g. ``campus-support``."""
        return _DEPARTMENT_SLUGS[self]

    @classmethod
    def from_slug(cls, slug: str) -> "Department":
        """The department whose slug is ``slug``; ValueError if none."""
        for department, known in _DEPARTMENT_SLUGS.items():
            if known == slug:
                return department
        raise ValueError(
            f"unknown department {slug!r}; one of {sorted(_DEPARTMENT_SLUGS.values())}"
        )


_DEPARTMENT_SLUGS = {
    Department.CAMPUS_SUPPORT: "campus-support",
    Department.HOSTING: "hosting",
    Department.TRAINING: "training",
    Department.BUSINESS_CONSULTING: "business-consulting",
    Department.TECHNICAL_SERVICES: "technical-services",
    Department.ACCOUNT_MANAGEMENT: "account-management",
}


class ContactType(StrEnum):
    """What a district contact may do; Read-Only contacts cannot submit or modify cases."""

    AUTHORIZED_SUPPORT = "Authorized Support"
    TECHNICAL = "Technical"
    IMPLEMENTATION = "Implementation"
    READ_ONLY = "Read-Only"

    @property
    def can_modify_cases(self) -> bool:
        """Authorized contacts (support, technical, implementation) submit and modify cases."""
        return self is not ContactType.READ_ONLY


class ActorKind(StrEnum):
    """Who performs an action: a district contact, a support staff member or the system timer."""

    CONTACT = "contact"
    STAFF = "staff"
    SYSTEM = "system"


class Visibility(StrEnum):
    """Who reads a post: everyone on the case, or only support staff (an internal note)."""

    PUBLIC = "public"
    INTERNAL = "internal"


class TokenScope(StrEnum):
    """What an API token may do: `read` answers safe requests only, `write` every request."""

    READ = "read"
    WRITE = "write"


class AreaOfResponsibility(StrEnum):
    """Areas of the product a contact is responsible for."""

    SIS = "SIS"
    FOOD_SERVICE = "Food Service"
    HUMAN_RESOURCES = "Human Resources"
    FINANCE = "Finance"
    ONLINE_PAYMENTS = "Online Payments"
    VOICE_MESSENGER = "Voice Messenger"
    STATE_EDITION = "State Edition"


class Module(StrEnum):
    """Product modules a case can concern, alphabetical, with Not Applicable last."""

    ADVANCED_ATTENDANCE = "Advanced Attendance & Appointments"
    ATTENDANCE = "Attendance"
    BEHAVIOR = "Behavior"
    CALENDAR = "Calendar (terms, periods, days)"
    CAMPUS_LEARNING = "Campus Learning"
    CAMPUS_PARENT_STUDENT = "Campus Parent / Campus Student"
    CENSUS = "Census"
    DATA_WAREHOUSE = "Data Warehouse"
    ENROLLMENT = "Enrollment"
    FINANCE = "Finance"
    FOOD_SERVICE = "Food Service"
    GRADE_BOOK = "Grade Book"
    GRADING_STANDARDS = "Grading & Standards"
    HEALTH = "Health"
    HOSTING = "Hosting"
    HUMAN_RESOURCES = "Human Resources"
    MESSENGER = "Messenger"
    ONLINE_PAYMENTS = "Online Payments"
    REPORTS = "Reports"
    SCHEDULING = "Scheduling"
    SPECIAL_ED = "Special Ed"
    STATE_REPORTING = "State Reporting"
    SYSTEM_ADMINISTRATION = "System Administration"
    TRANSCRIPTS = "Transcripts"
    USER_ACCOUNTS_SECURITY = "User Accounts & Security"
    NOT_APPLICABLE = "Not Applicable"


class ApplicationType(StrEnum):
    """The "Type" field of an Application Issue: which application is affected."""

    CAMPUS_APPLICATION = "Campus Application"
    CAMPUS_LEARNING = "Campus Learning"
    CAMPUS_PARENT = "Campus Parent"
    CAMPUS_STUDENT = "Campus Student"
    MOBILE_APP = "Mobile App"
    OTHER = "Other"


class TechnicalServicesType(StrEnum):
    """The "Type" field of a Request Technical Services case."""

    EXISTING_PROJECT = "Existing Custom Project (Fix/Modification)"
    CUSTOM_REPORT = "Custom Report, Report Card or Transcript"
    DATA_IMPORT_EXPORT = "Data Import/Export/Modification"
    THIRD_PARTY_INTEGRATION = "Integration with a 3rd Party Application"
    OTHER_SERVICES = "Other Services"


class TrainingRequestType(StrEnum):
    """The "Request Type" field of a Request Training case."""

    CAMPUS_LEARNING = "Campus Learning"
    SCHEDULING = "Scheduling"
    GRADE_BOOK = "Grade Book"
    STATE_REPORTING = "State Reporting"
    NEW_FEATURE = "New Feature"
    OTHER = "Other"


class ServerAccessRequestType(StrEnum):
    """The "Request Type" field of a Server Access case."""

    SERVER = "Server"
    SQL_SERVER = "SQL Server"
    SSRS = "SSRS"


class ContactChangeRequestType(StrEnum):
    """The "Request Type" field of a Modify Support Contacts case."""

    ADD = "Add"
    MODIFY = "Modify"
    REPLACE = "Replace"


class NoticeKind(StrEnum):
    """A status-board notification is an incident or planned maintenance."""

    INCIDENT = "incident"
    MAINTENANCE = "maintenance"


class NoticeStatus(StrEnum):
    """Life cycle of a notice: incidents investigate to resolution, maintenance runs on schedule."""

    INVESTIGATING = "Investigating"
    IDENTIFIED = "Identified"
    MONITORING = "Monitoring"
    RESOLVED = "Resolved"
    SCHEDULED = "Scheduled"
    IN_PROGRESS = "In Progress"
    COMPLETED = "Completed"

    @property
    def is_open(self) -> bool:
        """Resolved incidents and completed maintenance are closed notices."""
        return self not in (NoticeStatus.RESOLVED, NoticeStatus.COMPLETED)
