"""One error hierarchy for business rules. Services raise; views and the API render them."""


class ApplicationError(Exception):
    """A rule was broken. ``field_errors`` maps field names to messages for forms and the API."""

    def __init__(self, message: str, *, field_errors: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        self.field_errors = field_errors or {}
