"""The portal's errors under one root; api.py turns each into a page."""


class PortalError(Exception):
    """Root of the portal's errors; `status` is the HTTP status of the page shown."""

    status = 400


class NotSignedIn(PortalError):
    """No live session: the person is sent to sign in."""

    status = 401


class UnknownContact(PortalError):
    """The identity provider vouched for an email that is no active contact of any district."""

    status = 403

    def __init__(self, email: str) -> None:
        super().__init__(email)
        self.email = email


class SignInFailed(PortalError):
    """The identity provider's answer could not be verified (state, code or ID token)."""

    status = 400


class CsrfRefused(PortalError):
    """A form came without this session's CSRF token."""

    status = 403


class Forbidden(PortalError):
    """The person's contact type does not allow this (e.g. Read-Only submitting a case)."""

    status = 403


class CaseNotFound(PortalError):
    """No such case in the person's districts."""

    status = 404


class Refused(PortalError):
    """Intake refused the input; `issues` name the fields and say how to fix them."""

    status = 422

    def __init__(self, detail: str, issues: list[dict[str, str]], status: int = 422) -> None:
        super().__init__(detail)
        self.detail, self.issues, self.status = detail, issues, status


class Unavailable(PortalError):
    """A service the page needs did not answer."""

    status = 503
