"""Application statuses and the moves between them (visible to the applicant at every step)."""

from __future__ import annotations

from lendstack.errors import ErrorKind, LendstackError

STATUSES = (
    "received", "gathering", "decided", "referred", "approved", "declined", "offered", "booked", "withdrawn",
)  # fmt: skip
TERMINAL = frozenset({"declined", "booked", "withdrawn"})
_DECISIONS = frozenset({"decided", "referred", "approved", "declined"})
TRANSITIONS: dict[str, frozenset[str]] = {
    "received": frozenset({"gathering", "withdrawn"}) | _DECISIONS,
    "gathering": frozenset({"withdrawn"}) | _DECISIONS,
    "decided": frozenset({"referred", "approved", "declined", "withdrawn"}),
    # A manual reviewer approves, declines or counter-offers a referred application.
    "referred": frozenset({"approved", "declined", "offered", "withdrawn"}),
    "approved": frozenset({"offered", "booked", "withdrawn"}),
    "offered": frozenset({"booked", "declined", "withdrawn"}),
    "declined": frozenset(),
    "booked": frozenset(),
    "withdrawn": frozenset(),
}
assert set(TRANSITIONS) == set(STATUSES) and all(TRANSITIONS[s] == frozenset() for s in TERMINAL)


class StatusError(LendstackError):
    """A status move the lifecycle does not allow (e.g. booking a declined application)."""

    kind = ErrorKind.CONFLICT
    code = "state-conflict"

    def __init__(self, application_id: str, current: str, wanted: str) -> None:
        allowed = ", ".join(sorted(TRANSITIONS.get(current, frozenset()))) or "none (final)"
        super().__init__(
            "status", f"application {application_id}: cannot go from {current!r} to {wanted!r}; allowed: {allowed}"
        )
        # str(error) stays the sentence alone, as before the one error model: callers print it as is.
        self.args = (self.message,)
        self.current = current
        self.wanted = wanted


def check_transition(application_id: str, current: str, wanted: str) -> None:
    """Raise StatusError unless `current` → `wanted` is allowed; staying put is not a move and is refused too."""
    if wanted not in STATUSES:
        raise StatusError(application_id, current, wanted)
    if wanted not in TRANSITIONS[current]:
        raise StatusError(application_id, current, wanted)
