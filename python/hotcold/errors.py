"""One root exception for every mistake a user can fix.

The CLI catches `HotColdError` at its edge and prints `Error: <problem>` plus the fix;
anything else is a bug and keeps its traceback.
"""


class HotColdError(Exception):
    """A problem the user can fix; `fix` says how."""

    def __init__(self, problem: str, fix: str | None = None):
        super().__init__(problem)
        self.problem = problem
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.problem} ({self.fix})" if self.fix else self.problem


class ConfigError(HotColdError):
    pass


class RotationLocked(HotColdError):
    pass


class RotationDisabled(HotColdError):
    pass


class StepFailed(HotColdError):
    """A rotation step failed; nothing after it (in particular no delete) ran."""
